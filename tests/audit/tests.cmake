# lib/audit: Merkle tree, proofs (against transparency-dev/merkle's vectors in the shared corpus,
# skipped without it) and C2SP signed notes / checkpoints (cross-checked with the openssl CLI when
# it is installed).
ironroot_test(audit_test
  SOURCES
    audit/merkle_test.cc
    audit/tlog_vectors_test.cc
    audit/checkpoint_test.cc
    audit/journal_test.cc
  DEPS ironroot::audit nlohmann_json::nlohmann_json OpenSSL::Crypto SQLite::SQLite3)
