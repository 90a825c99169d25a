# lib/tpm2: unit tests on the shared corpus (skipped without it) and integration tests against
# swtpm + tpm2-tools (skipped when they are not installed; harness in support/swtpm.cc).
ironroot_test(tpm2_test
  SOURCES
    tpm2/keys_test.cc
    tpm2/quote_test.cc
    tpm2/credential_test.cc
    tpm2/ekcert_test.cc
    tpm2/swtpm_test.cc
    support/swtpm.cc
  DEPS ironroot::tpm2 OpenSSL::Crypto)
