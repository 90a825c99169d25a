# tpmdev against real swtpm processes (tests skip when swtpm/swtpm_setup are not installed).
# The swtpm harness is lib/sim (sim/swtpm.h) with test defaults in support/swtpm.h: link
# ironroot::sim to reuse it.
ironroot_test(tpmdev_test
  SOURCES tpmdev/tpm_test.cc
  DEPS ironroot::tpmdev ironroot::sim OpenSSL::Crypto)
