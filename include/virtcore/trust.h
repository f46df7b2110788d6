/* SPDX-License-Identifier: MIT */
/*
 * trust: a signed list of reference values (one per boot stage, in chain order), and a
 * chain verifier that checks each stage against it before control passes to that stage,
 * extending a PCR-style register as it goes. The list's layout and the freestanding
 * guest-side SHA-256 and parser are in <virtcore/trust_abi.h>; docs/trust-format.md.
 *
 * Host side: build a list (vc_trust_list_create(), vc_trust_list_add_*()), sign it with an
 * Ed25519 key (vc_trust_list_sign()), serialise it (vc_trust_list_serialize()) into a
 * file or into the buffer the VMM copies to a fixed guest address. Load it back with
 * vc_trust_list_load(), which checks the signature against a pinned public key. Verify
 * stages in order with a vc_trust_chain.
 *
 * Hashing goes through OpenSSL EVP (SHA-NI where the CPU has it), streaming: files are
 * never read into memory whole.
 */
#ifndef VIRTCORE_TRUST_H
#define VIRTCORE_TRUST_H

#include <stdint.h>

#include <virtcore/common.h>
#include <virtcore/trust_abi.h>

VC_BEGIN_DECLS

/** A reference-value list in memory. Not thread-safe. */
typedef struct vc_trust_list vc_trust_list;
/** An Ed25519 key: a private key (can sign and verify) or a public key (verify only). */
typedef struct vc_trust_key vc_trust_key;
/** A chain being verified, stage by stage. Not thread-safe. */
typedef struct vc_trust_chain vc_trust_chain;

/* ---- measuring ---- */

/** @brief Digest size of @p alg: 32, 48, or 0 if unknown. */
VC_API unsigned vc_trust_digest_size(uint32_t alg);

/**
 * @brief Digest of @p len bytes at @p data.
 * @param out at least vc_trust_digest_size(alg) bytes
 * @return 0; -EINVAL unknown algorithm.
 */
VC_API int vc_trust_measure_mem(uint8_t *out, uint32_t alg, const void *data, size_t len);

/**
 * @brief Digest of a file read to its end from @p fd's current position, in chunks.
 * @param out_size receives the number of bytes read (may be NULL)
 * @return 0; -EINVAL unknown algorithm; -errno from read().
 */
VC_API int vc_trust_measure_fd(uint8_t *out, uint64_t *out_size, uint32_t alg, int fd);

/** @brief As vc_trust_measure_fd() on the file at @p path: a regular file or a block
 *  device (a FIFO, socket or character device such as /dev/zero is refused: it may never
 *  end, and a FIFO without a writer would hang the open).
 *  @return as vc_trust_measure_fd(); -EISDIR / -EINVAL a directory / not a file;
 *          -errno from open(). */
VC_API int vc_trust_measure_path(uint8_t *out, uint64_t *out_size, uint32_t alg,
				 const char *path);

/* ---- keys ---- */

/** @brief A new random Ed25519 key pair. @return 0; -ENOMEM; -EIO (OpenSSL failed). */
VC_API int vc_trust_key_generate(vc_trust_key **out);

/**
 * @brief Loads a PEM key: a private key ("PRIVATE KEY", PKCS#8) or a public key
 *        ("PUBLIC KEY", SubjectPublicKeyInfo). Only Ed25519 keys are accepted.
 * @return 0; -ENOENT/-EACCES from open; -EISDIR / -EINVAL a directory / a FIFO, socket
 *         or character device; -EBADMSG not a PEM Ed25519 key.
 */
VC_API int vc_trust_key_load(vc_trust_key **out, const char *path);

/**
 * @brief Writes the key as PEM: the private key (mode 0600) to @p private_path if not
 *        NULL (the key must be private), the public key to @p public_path if not NULL.
 *        Both through a new file and a rename, through symlinks to the files they name;
 *        a directory, device node, FIFO or socket there is left as it was. Both files are
 *        created (unnamed) before either is written: when one cannot be, neither appears.
 * @return 0; -EINVAL a public-only key asked for its private half, both paths leading to
 *         the same file, or a path that is a device node, FIFO or socket; -EISDIR a
 *         directory; -errno from writing.
 */
VC_API int vc_trust_key_save(const vc_trust_key *key, const char *private_path,
			     const char *public_path);

/** @brief SHA-256 of the raw 32-byte public key: the key id stored in signatures. */
VC_API void vc_trust_key_id(uint8_t out[32], const vc_trust_key *key);

/** @brief Frees a key. NULL is a no-op. */
VC_API void vc_trust_key_destroy(vc_trust_key *key);

/* ---- the list ---- */

/**
 * @brief An empty list whose stages are measured with @p alg.
 * @return 0; -EINVAL unknown algorithm; -ENOMEM.
 */
VC_API int vc_trust_list_create(vc_trust_list **out, uint32_t alg);

/**
 * @brief Appends a stage with a known digest. The order of additions is the chain order.
 * @param digest vc_trust_digest_size() bytes
 * @return 0; -EINVAL bad name (empty, over 47 bytes) or role; -EEXIST name taken;
 *         -E2BIG already VC_TRUST_MAX_STAGES stages. Any change drops a signature.
 */
VC_API int vc_trust_list_add(vc_trust_list *l, const char *name, enum vc_trust_role role,
			     const uint8_t *digest, uint64_t size);

/** @brief Measures the file at @p path and appends it.
 *  @return the errors of vc_trust_measure_path() and vc_trust_list_add(). */
VC_API int vc_trust_list_add_path(vc_trust_list *l, const char *name,
				  enum vc_trust_role role, const char *path);

/** @brief Signs the list with @p key (a private key). @return 0; -EINVAL public key. */
VC_API int vc_trust_list_sign(vc_trust_list *l, const vc_trust_key *key);

/**
 * @brief Writes the list (signed or not) in its binary form.
 * @param buf NULL to ask for the size
 * @return the size in bytes; -ENOSPC @p len too small; -ENODATA an empty list.
 */
VC_API long vc_trust_list_serialize(const vc_trust_list *l, void *buf, size_t len);

/** Options for vc_trust_list_load(); VC_OPTS(vc_trust_load_opts, o, ...). */
struct vc_trust_load_opts {
	size_t sz;
	/** The pinned public key. Given: the list must be signed by exactly this key.
	 *  NULL: the list may be unsigned; a signature is then checked against no key and
	 *  the list is accepted only with VC_TRUST_LOAD_UNVERIFIED. */
	const vc_trust_key *key;
	uint32_t flags; /**< VC_TRUST_LOAD_* */
	uint32_t pad;   /**< reserved, zero (no tail padding: every byte is a field) */
};

/** vc_trust_load_opts flags. */
enum vc_trust_load_flags {
	/** Accept a list without checking any signature (to inspect it, e.g. `show`). */
	VC_TRUST_LOAD_UNVERIFIED = 1u << 0,
};

/**
 * @brief Parses and validates a list from @p len bytes, checking its signature.
 *
 * With a key: refuses an unsigned list (-EKEYREJECTED "unsigned"), a list signed by
 * another key (-EKEYREJECTED "signed by key ID..., expected ..."), a bad signature
 * (-EKEYREJECTED). Without a key and without VC_TRUST_LOAD_UNVERIFIED: -EINVAL.
 * Any structural problem or truncation: -EBADMSG. Bytes past the list: -EBADMSG.
 *
 * @return 0; the errors above; -E2BIG options this library does not know; -ENOMEM.
 */
VC_API int vc_trust_list_load(vc_trust_list **out, const void *buf, size_t len,
			      const struct vc_trust_load_opts *opts);

/** @brief As vc_trust_list_load() on a file (at most 64 KiB).
 *  @return as vc_trust_list_load() (a larger file is -EBADMSG); -EISDIR / -EINVAL a
 *          directory / a FIFO, socket or character device; -errno from reading. */
VC_API int vc_trust_list_load_path(vc_trust_list **out, const char *path,
				   const struct vc_trust_load_opts *opts);

/** @brief Writes the serialised list to @p path (temporary file + rename), through @p path's
 *  symlinks to the file they name.
 *  @return 0; -ENODATA an empty list; -EISDIR / -EINVAL @p path is (or leads to) a
 *          directory / a device node, FIFO or socket, left as it was; -errno from writing
 *          (@p path then untouched). */
VC_API int vc_trust_list_save(const vc_trust_list *l, const char *path);

/** @brief Frees a list. NULL is a no-op. */
VC_API void vc_trust_list_destroy(vc_trust_list *l);

/** One stage of a list, as vc_trust_list_get() reports it. */
struct vc_trust_stage {
	char name[VC_TRUST_NAME_MAX + 1];
	enum vc_trust_role role;
	uint32_t alg;
	unsigned digest_size;
	uint8_t digest[VC_TRUST_DIGEST_MAX];
	uint64_t size;
};

/** @brief Number of stages. */
VC_API unsigned vc_trust_list_count(const vc_trust_list *l);
/** @brief The hash algorithm of the list. */
VC_API uint32_t vc_trust_list_alg(const vc_trust_list *l);
/** @brief Whether the list carries a signature (checked at load, or made by _sign()).
 *  @return 1 or 0. */
VC_API int vc_trust_list_signed(const vc_trust_list *l);
/** @brief Describes stage @p index into @p out. @return 0; -ENOENT out of range. */
VC_API int vc_trust_list_get(struct vc_trust_stage *out, const vc_trust_list *l,
			     unsigned index);

/**
 * @brief The list as text, one stage per line, for people and diff:
 *        `# vc-trust list v1, sha256, 3 stages, signed by key <id>` then
 *        `<index> <name> <role> <size> <alg>:<hex digest>`.
 * @return the length written (without NUL); -ENOSPC @p len too small (NULL: size query).
 */
VC_API long vc_trust_list_text(const vc_trust_list *l, char *buf, size_t len);

/** @brief The name of a role ("stage", "firmware", ...), or "?" */
VC_API const char *vc_trust_role_name(enum vc_trust_role role);

/* ---- verifying a chain ---- */

/** Why a stage was refused. */
enum vc_trust_refusal {
	VC_TRUST_OK = 0,
	VC_TRUST_UNKNOWN_STAGE,  /**< the name is not in the list (-ENOENT) */
	VC_TRUST_OUT_OF_ORDER,   /**< in the list, but not the next stage (-EPROTO) */
	VC_TRUST_SIZE_MISMATCH,  /**< -EKEYREJECTED */
	VC_TRUST_DIGEST_MISMATCH, /**< -EKEYREJECTED */
	VC_TRUST_CHAIN_BROKEN,   /**< an earlier stage was refused: nothing more passes */
	VC_TRUST_MISSING_STAGE,  /**< vc_trust_chain_finish() with stages left (-ENODATA) */
};

/** What vc_trust_chain_verify_*() found, filled on success and on refusal. */
struct vc_trust_verdict {
	enum vc_trust_refusal refusal;
	int index;                          /**< the stage's place in the list, or -1 */
	int expected_index;                 /**< the stage that should have come */
	char name[VC_TRUST_NAME_MAX + 1];   /**< the stage presented */
	unsigned digest_size;
	uint8_t expected[VC_TRUST_DIGEST_MAX];
	uint8_t actual[VC_TRUST_DIGEST_MAX];
	uint64_t expected_size, actual_size;
};

/**
 * @brief Starts verifying @p list from its first stage. The chain keeps a reference to
 *        @p list (which must outlive it) and a register (PCR) of the list's algorithm,
 *        initially zero, extended with every stage that verifies.
 * @param out receives the chain; free it with vc_trust_chain_destroy()
 * @return 0; -EINVAL a NULL argument; -ENOMEM.
 */
VC_API int vc_trust_chain_create(vc_trust_chain **out, const vc_trust_list *list);

/**
 * @brief Verifies the next stage, already measured: @p name with @p digest over @p size
 *        bytes. On success the register becomes H(register || digest).
 *
 * A refusal breaks the chain for good: every later call refuses too.
 *
 * @param out optional detail (NULL: not wanted), filled in either case
 * @return 0; -ENOENT unknown stage; -EPROTO out of order; -EKEYREJECTED size or digest
 *         mismatch; -ECANCELED the chain broke earlier; -ENODATA every stage passed already.
 */
VC_API int vc_trust_chain_verify_digest(struct vc_trust_verdict *out,
					vc_trust_chain *c, const char *name,
					const uint8_t *digest, uint64_t size);

/** @brief Measures @p len bytes at @p data and verifies them as the next stage.
 *  @return as vc_trust_chain_verify_digest(). */
VC_API int vc_trust_chain_verify_mem(struct vc_trust_verdict *out, vc_trust_chain *c,
				     const char *name, const void *data, size_t len);

/** @brief Measures the file at @p path and verifies it as the next stage.
 *  @return as vc_trust_chain_verify_digest(); -errno from reading the file. */
VC_API int vc_trust_chain_verify_path(struct vc_trust_verdict *out, vc_trust_chain *c,
				      const char *name, const char *path);

/**
 * @brief Ends the chain: 0 only if every stage of the list verified, in order.
 * @return 0; -ENODATA stages missing (@p out names the first); -ECANCELED broken.
 */
VC_API int vc_trust_chain_finish(struct vc_trust_verdict *out, vc_trust_chain *c);

/** @brief The register now; @p out gets vc_trust_digest_size(alg) bytes. @return its size. */
VC_API unsigned vc_trust_chain_pcr(uint8_t *out, const vc_trust_chain *c);

/** @brief Stages verified so far. */
VC_API unsigned vc_trust_chain_position(const vc_trust_chain *c);

/** @brief Frees a chain. NULL is a no-op. */
VC_API void vc_trust_chain_destroy(vc_trust_chain *c);

/* ---- the TCG event log ---- */

/** A TCG PC Client crypto-agile event log with one digest bank (the list's algorithm). */
typedef struct vc_trust_log vc_trust_log;

/** Event types we write (TCG PC Client Platform Firmware Profile). */
#define VC_TRUST_EV_NO_ACTION 0x00000003u /**< only the Spec ID header */
#define VC_TRUST_EV_IPL 0x0000000Du       /**< a boot stage measured by a loader */
/** The PCR chains extend by default (the one GRUB uses for the files it loads). */
#define VC_TRUST_PCR_DEFAULT 9u
/** PCRs a log may name (0..23). */
#define VC_TRUST_PCR_COUNT 24u
/** Longest event data we write or accept, in bytes. */
#define VC_TRUST_EVENT_MAX 1024u

/** One event, as vc_trust_log_event() reports it. */
struct vc_trust_event {
	uint32_t pcr;
	uint32_t type;
	unsigned digest_size;
	uint8_t digest[VC_TRUST_DIGEST_MAX];
	uint32_t data_size;
	const uint8_t *data; /**< points into the log; valid while it lives */
};

/**
 * @brief An empty log for @p alg: only the Spec ID Event03 header (EV_NO_ACTION, one
 *        algorithm).
 * @return 0; -EINVAL unknown algorithm; -ENOMEM.
 */
VC_API int vc_trust_log_create(vc_trust_log **out, uint32_t alg);

/**
 * @brief Appends a TCG_PCR_EVENT2.
 * @param type any event type but EV_NO_ACTION
 * @param digest vc_trust_digest_size() bytes of the log's algorithm
 * @return 0; -EINVAL PCR over 23, EV_NO_ACTION, data over VC_TRUST_EVENT_MAX; -ENOMEM.
 */
VC_API int vc_trust_log_add(vc_trust_log *log, uint32_t pcr, uint32_t type,
			    const uint8_t *digest, const void *data, uint32_t data_size);

/**
 * @brief The log's bytes: exactly the log, no padding.
 * @param buf NULL to ask for the size
 * @return the size; -ENOSPC @p len too small.
 */
VC_API long vc_trust_log_serialize(const vc_trust_log *log, void *buf, size_t len);

/** @brief Writes the log to @p path (temporary file + rename), as vc_trust_list_save() does.
 *  @return 0; -EISDIR / -EINVAL as vc_trust_list_save(); -errno from writing (@p path then
 *          untouched). */
VC_API int vc_trust_log_save(const vc_trust_log *log, const char *path);

/**
 * @brief Parses a log, more strictly than tpm2_eventlog (the Linux kernel's rules and
 *        then some): the first event is the Spec ID Event03 header with 1 to 8 known
 *        algorithms; every later event has exactly those digests in that order, a PCR
 *        under 24, a type other than EV_NO_ACTION, data within VC_TRUST_EVENT_MAX; the
 *        log ends exactly at the last event. Only logs with one SHA-256 or SHA-384 bank
 *        (what this library writes) are accepted.
 * @return 0; -EBADMSG (reason in the log callback); -ENOMEM.
 */
VC_API int vc_trust_log_load(vc_trust_log **out, const void *buf, size_t len);

/** @brief As vc_trust_log_load() on a file (at most 16 MiB).
 *  @return as vc_trust_log_load() (a larger file is -EBADMSG); -EISDIR / -EINVAL a
 *          directory / a FIFO, socket or character device; -errno from reading. */
VC_API int vc_trust_log_load_path(vc_trust_log **out, const char *path);

/** @brief The log's algorithm. */
VC_API uint32_t vc_trust_log_alg(const vc_trust_log *log);
/** @brief Events after the header. */
VC_API unsigned vc_trust_log_count(const vc_trust_log *log);
/** @brief Describes event @p index (0 = the first after the header) into @p out.
 *  @return 0; -ENOENT. */
VC_API int vc_trust_log_event(struct vc_trust_event *out, const vc_trust_log *log,
			      unsigned index);
/**
 * @brief Replays the log: the value PCR @p pcr has after every event (zeros if none
 *        touches it). @return the digest size written to @p out; 0 for a bad PCR.
 */
VC_API unsigned vc_trust_log_pcr(uint8_t *out, const vc_trust_log *log, uint32_t pcr);

/** @brief Frees a log. NULL is a no-op. */
VC_API void vc_trust_log_destroy(vc_trust_log *log);

/**
 * @brief Records every stage the chain verifies from now on in @p log (an EV_IPL event
 *        in PCR @p pcr whose data is the stage name), measured-boot style: a stage is
 *        logged when it is presented, before the verdict, so a refused stage appears too.
 *        The log must use the list's algorithm and outlive the chain.
 * @return 0; -EINVAL other algorithm or PCR over 23.
 */
VC_API int vc_trust_chain_set_log(vc_trust_chain *c, vc_trust_log *log, uint32_t pcr);

VC_END_DECLS

#endif /* VIRTCORE_TRUST_H */
