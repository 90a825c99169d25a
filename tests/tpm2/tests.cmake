# lib/tpm2: unit tests on the shared corpus (skipped without it) and integration tests against
# swtpm + tpm2-tools (skipped when they are not installed; swtpm from ironroot::sim, test
# defaults in support/swtpm.h).
ironroot_test(tpm2_test
  SOURCES
    tpm2/keys_test.cc
    tpm2/quote_test.cc
    tpm2/credential_test.cc
    tpm2/ekcert_test.cc
    tpm2/swtpm_test.cc
  DEPS ironroot::tpm2 ironroot::sim OpenSSL::Crypto)
