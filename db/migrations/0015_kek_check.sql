-- 0015_kek_check.sql: a value sealed under the key-encryption key the
-- database's secrets are sealed under, so that a daemon or worker given
-- another key refuses to start instead of failing secret by secret (and
-- never seals new secrets under a key the others cannot open).  Written on
-- first use; `cloisterd rekey` reseals it with the rest.  Rules: lib/kek.c.

CREATE TABLE kek_check (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    sealed      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rekeyed_at  timestamptz
);
