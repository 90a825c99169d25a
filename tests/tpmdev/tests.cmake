# tpmdev against real swtpm processes (tests skip when swtpm/swtpm_setup are not installed).
# support/swtpm.cc is the harness other integration tests reuse: add it to their SOURCES.
ironroot_test(tpmdev_test
  SOURCES tpmdev/tpm_test.cc support/swtpm.cc
  DEPS ironroot::tpmdev OpenSSL::Crypto)
