// ironroot tpm2: TPM2_MakeCredential done by the verifier, without a TPM (TPM 2.0 Part 1,
// "Credential Protection"; Part 3, TPM2_MakeCredential). It encrypts a secret to an EK so that
// only the TPM holding that EK, and only for the object with the given name (the AK), can recover
// it with TPM2_ActivateCredential: the proof that the AK lives in the same TPM as the EK.
//
//   IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> ak_name, tpm2::name(ak_pub));
//   std::vector<uint8_t> secret = crypto::random_bytes(32);
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::Credential c, tpm2::make_credential(ek_pub, ak_name, secret));
//   send(c.id_object, c.encrypted_secret);  // the agent runs TPM2_ActivateCredential, returns
//   secret
//
// RSA EKs: the seed is RSA-OAEP encrypted (EK nameAlg, label "IDENTITY\0"). ECC EKs: the seed is
// KDFe(nameAlg, ECDH(ephemeral, EK).x, "IDENTITY", ephemeral.x, EK.x) and the encrypted secret is
// the ephemeral point. Then: KDFa(nameAlg, seed, "STORAGE", name) keys the EK's symmetric cipher
// (AES-CFB, zero IV) over the TPM2B_DIGEST-marshalled secret, KDFa(nameAlg, seed, "INTEGRITY")
// keys the outer HMAC over encIdentity || name. All primitives are OpenSSL's (KBKDF, SSKDF, HMAC,
// AES-CFB, RSA-OAEP, ECDH).
//
// Thread safety: pure functions (randomness from OpenSSL's CSPRNG), thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

namespace ironroot::tpm2 {

struct Credential {
  std::vector<uint8_t> id_object;         // marshalled TPM2B_ID_OBJECT (credentialBlob)
  std::vector<uint8_t> encrypted_secret;  // marshalled TPM2B_ENCRYPTED_SECRET (secret)
};

// MakeCredential for the EK in `ek_tpm2b_public` and the object whose TPM name is `object_name`
// (nameAlg || digest, see name()). OK: the EK is a restricted decryption RSA or ECC (NIST curve)
// key with AES-CFB as its symmetric algorithm; the name is 2 + digest-size bytes of a known hash;
// `secret` is 1 .. digest-size(EK nameAlg) bytes, as TPM2_MakeCredential requires.
Result<Credential> make_credential(Bytes ek_tpm2b_public, Bytes object_name, Bytes secret);

// The credential file of tpm2-tools (tpm2_makecredential -o, tpm2_activatecredential -i): the
// header magic 0xBADCC0DE and version 1 (big-endian uint32 each), then the marshalled
// TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET.
std::vector<uint8_t> encode_tpm2_tools_credential(const Credential& credential);
// Reads that file back. OK: magic, version 1, two TPM2Bs filling the file exactly.
Result<Credential> decode_tpm2_tools_credential(Bytes file);

// KDFa (TPM 2.0 Part 1, "KDFa()"): SP 800-108 counter-mode KDF with HMAC-`alg`, computed by
// OpenSSL's KBKDF. `label` is given without its terminating NUL (KDFa adds it). Returns
// ceil(bits / 8) bytes; bits must be 1 .. 65536 and a multiple of 8.
Result<std::vector<uint8_t>> kdfa(crypto::HashAlg alg, Bytes key, std::string_view label,
                                  Bytes context_u, Bytes context_v, size_t bits);

// KDFe (TPM 2.0 Part 1, "KDFe()"): SP 800-56A single-step KDF with `alg`, computed by OpenSSL's
// SSKDF over Z with OtherInfo = use || 0x00 || party_u || party_v. Same size rules as kdfa().
Result<std::vector<uint8_t>> kdfe(crypto::HashAlg alg, Bytes z, std::string_view use, Bytes party_u,
                                  Bytes party_v, size_t bits);

}  // namespace ironroot::tpm2
