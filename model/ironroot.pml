/*
 * ironroot's enrolment, attestation and admission protocol, under a network attacker.
 * See model/README.md for how each part maps to lib/verifier/service.cc and lib/agent/agent.cc.
 *
 * Processes: the agent (with its TPM), the verifier, and the network, which is the attacker:
 * it sees every message, and may deliver it, drop it, hold it back and deliver it later (so
 * messages arrive reordered), keep copies and replay them any number of times, and forge what it
 * can make without a TPM key: enrolment requests for its own attestation key, activations with a
 * wrong secret, challenge requests, and quotes signed by its own key over any nonce it has seen.
 *
 * Broken variants (check.sh shows spin finds each violation):
 *   -DBROKEN_NONCE_REUSE  the verifier accepts any nonce it ever issued (no single-use challenge)
 *   -DBROKEN_NO_ACTIVATION the verifier enrols without credential activation
 */

#ifndef MAXN
#define MAXN 4 /* nonces the verifier issues (challenge rounds), 1..MAXN */
#endif
#define MAXE 2 /* enrolments the verifier starts */
#define MAXFLIPS 2 /* times the host changes between sound and compromised */

/* Attestation keys. */
#define AK_TPM 1 /* the key inside the host's TPM */
#define AK_ATT 2 /* a key the attacker made (software, no TPM) */

/* Host states (store::HostState). */
#define NONE 0 /* not enrolled */
#define ENROLLING 1
#define TRUSTED 2
#define UNTRUSTED 3

mtype = { ENROL, CRED, ACTIVATE, CHREQ, CHAL, EVID };

/* A message: type, a, b, c.
 *   ENROL(ak)             agent -> verifier    POST /v1/enrollments
 *   CRED(eid, ak)         verifier -> agent    201 {enrollment_id, id_object, encrypted_secret}
 *   ACTIVATE(eid, ok)     agent -> verifier    POST /v1/enrollments/{eid}/activate; ok = the
 *                                              secret TPM2_ActivateCredential recovered
 *   CHREQ                 agent -> verifier    POST /v1/hosts/{id}/challenge
 *   CHAL(n)               verifier -> agent    200 {nonce}
 *   EVID(n, ak, pcrs_ok)  agent -> verifier    POST /v1/hosts/{id}/evidence: a quote over n
 *                                              signed by ak; pcrs_ok = the quoted PCRs and logs
 *                                              match the approved reference values
 */
/* All rendezvous, so no message sits in a buffer (fewer states); a send that finds nobody ready
 * is dropped ("if :: ch!m :: skip fi"), which the attacker may do to any message anyway. */
chan up = [0] of { mtype, byte, byte, byte };    /* agent -> network */
chan down = [0] of { mtype, byte, byte, byte };  /* verifier -> network */
chan to_v = [0] of { mtype, byte, byte, byte };  /* network -> verifier */
chan to_a = [0] of { mtype, byte, byte, byte };  /* network -> agent */

/* Verifier state. */
byte hstate = NONE;
byte enrolled_ak = 0;
byte next_eid = 0;
byte pending_eid = 0; /* 0: none pending */
byte pending_ak = 0;
byte outstanding = 0; /* the host's one outstanding challenge nonce; 0: none */
byte issued = 0;      /* nonces 1..issued have been handed out */

/* Agent state. */
bool compromised = false;

/* Ghost state: facts the real system cannot see, recorded to state the properties. */
bool good_quote[MAXN + 1]; /* the host's TPM quoted nonce n while the host was sound */
bool consumed[MAXN + 1];   /* nonce n has already been used for an appraisal */
byte untrusted_bound = 0;  /* nonces <= this were issued before the host last became untrusted */
/* Set by the verifier's step that re-admits a host on a fresh quote by its TPM over good PCRs,
 * with a nonce issued after the host became untrusted; cleared by the verifier's next step. */
bool readmit_ok = false;

/* Property 2 as LTL (properties 1 and 3, and 2 again, are assertions in the verifier). */
ltl no_readmission_without_new_evidence {
  [] ((hstate == UNTRUSTED) -> ((hstate != TRUSTED) W readmit_ok))
}

active proctype verifier() {
  mtype t;
  byte a, b, c;
  byte before;
  bool was_consumed, accept, admit_ok;
end_idle:
  do
  :: to_v?t, a, b, c ->
    atomic {
      readmit_ok = false;
      if
      :: t == ENROL ->
        /* EK certificate chain checked (the attacker may name the real EK: it is public). */
        if
        :: next_eid < MAXE ->
          next_eid++;
#ifdef BROKEN_NO_ACTIVATION
          enrolled_ak = a; hstate = ENROLLING;
#else
          pending_eid = next_eid; pending_ak = a;
#endif
          if
          :: down!CRED, next_eid, a, 0
          :: skip /* a reply lost */
          fi
        :: else -> skip
        fi
      :: t == ACTIVATE ->
        /* One attempt per enrolment: the pending enrolment is consumed whatever the secret. */
        if
        :: pending_eid != 0 && a == pending_eid ->
          pending_eid = 0;
          if
          :: b -> enrolled_ak = pending_ak; hstate = ENROLLING /* re-enrolment too */
          :: else -> skip /* 403 */
          fi
        :: else -> skip /* 404 */
        fi
      :: t == CHREQ ->
        if
        :: hstate != NONE && issued < MAXN ->
          issued++;
          outstanding = issued; /* replaces any earlier challenge */
          if
          :: down!CHAL, issued, 0, 0
          :: skip
          fi
        :: else -> skip
        fi
      :: t == EVID && hstate != NONE ->
        before = hstate;
        was_consumed = (a >= 1 && a <= MAXN && consumed[a]);
#ifdef BROKEN_NONCE_REUSE
        accept = (a >= 1 && a <= issued);
#else
        accept = (outstanding != 0 && a == outstanding);
#endif
        if
        :: accept ->
          outstanding = 0;
          consumed[a] = true;
          /* Appraisal: the quote verifies under the enrolled AK and the PCRs are approved. */
          if
          :: b == enrolled_ak && c ->
            hstate = TRUSTED;
            admit_ok = (b == AK_TPM && good_quote[a] && !was_consumed);
            readmit_ok = admit_ok && a > untrusted_bound;
            /* Property 1: never admitted without a fresh, valid quote. */
            assert(admit_ok);
            /* Property 2: an untrusted host is re-admitted only on new evidence that passes. */
            assert(before != UNTRUSTED || readmit_ok);
          :: else ->
            if
            :: hstate != UNTRUSTED -> untrusted_bound = issued
            :: else -> skip
            fi;
            hstate = UNTRUSTED
          fi
        :: else -> skip /* 409: unknown, used or expired nonce */
        fi;
        /* Property 3: a replayed quote (its nonce already used) never changes the host state. */
        assert(!was_consumed || hstate == before);
        was_consumed = false; accept = false; admit_ok = false; before = 0
      :: else -> skip
      fi;
      t = 0; a = 0; b = 0; c = 0 /* no stale locals: they would multiply the states */
    }
  /* Expiry of a challenge is not modelled: a new challenge replaces it, which the network can
   * cause at any time, and an expired nonce is refused like a replaced one. */
  od
}

active proctype agent() {
  mtype t;
  byte a, b, c;
  byte flips = 0;
  bool enrolling = true;
end_idle:
  do
  :: atomic { enrolling -> enrolling = false; if :: up!ENROL, AK_TPM, 0, 0 :: skip fi }
  /* The agent's challenge requests carry nothing: the network's forged CHREQ stands for them
   * (and for the agent asking again after a lost answer). */
  :: to_a?t, a, b, c ->
    atomic {
      if
      :: t == CRED ->
        /* TPM2_ActivateCredential recovers the secret only for an AK inside this TPM. */
        if
        :: b == AK_TPM -> if :: up!ACTIVATE, a, 1, 0 :: skip fi
        :: else -> skip
        fi
      :: t == CHAL && a >= 1 && a <= MAXN ->
        /* TPM2_Quote over the nonce; the PCRs are good unless the host is compromised. */
        if
        :: !compromised -> good_quote[a] = true
        :: else -> skip
        fi;
        if
        :: up!EVID, a, AK_TPM, !compromised
        :: skip
        fi
      :: else -> skip
      fi;
      t = 0; a = 0; b = 0; c = 0
    }
  :: flips < MAXFLIPS -> flips++; compromised = !compromised /* tampered with, or repaired */
  od
}

/* The attacker-controlled network. It keeps one message for later (see README: one slot is
 * enough for every attack on these properties, and keeps the search under a minute). */
#define KEEP(t) (t != CHREQ) /* it can forge that one anyway */

active proctype network() {
  mtype t;
  byte a, b, c;
  mtype rt;        /* the kept message */
  byte ra, rb, rc;
  bool rfull = false;
  byte i;
end_idle:
  do
  :: atomic {
      up?t, a, b, c ->
      if
      :: skip
      :: KEEP(t) -> rt = t; ra = a; rb = b; rc = c; rfull = true
      fi;
      if
      :: to_v!t, a, b, c /* deliver */
      :: skip /* drop (or, with the copy kept, deliver later: reordered) */
      fi;
      t = 0; a = 0; b = 0; c = 0
    }
  :: atomic {
      down?t, a, b, c ->
      if
      :: skip
      :: KEEP(t) -> rt = t; ra = a; rb = b; rc = c; rfull = true
      fi;
      if
      :: to_a!t, a, b, c
      :: skip
      fi;
      t = 0; a = 0; b = 0; c = 0
    }
  :: atomic {
      /* Replay the kept message (again and again, or late: out of order). */
      rfull ->
      if
      :: rt == CRED || rt == CHAL -> if :: to_a!rt, ra, rb, rc :: skip fi
      :: else -> if :: to_v!rt, ra, rb, rc :: skip fi
      fi
    }
  /* Forgeries: what anyone can say without the TPM's keys. */
  /* (Each is a rendezvous with the verifier at its loop head, never blocking for long: the
   * verifier's own sends are lossy.) */
  :: atomic { next_eid < MAXE -> to_v!ENROL, AK_ATT, 0, 0 }
  :: atomic {
      pending_eid != 0 -> to_v!ACTIVATE, pending_eid, 0, 0 /* wrong secret */
    }
  :: atomic { to_v!CHREQ, 0, 0, 0 }
  :: atomic {
      /* A quote signed by the attacker's key over a nonce it saw, claiming good PCRs. */
      issued > 0 -> select(i : 1 .. issued); to_v!EVID, i, AK_ATT, 1; i = 0
    }
  od
}
