-- 0018_node_replay.sql: the signed requests each node has made lately, so
-- that a request captured on the way cannot be sent again while its Date
-- is still within the daemon's clock skew.  Rules: daemon/auth.c (the id
-- is the SHA-256 of the signature with its s normalised, lib/httpsig.c);
-- the node-watch duty forgets ids older than any request could still be
-- accepted (api/nodes.c).

CREATE TABLE node_request_signatures (
    node_id       uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    signature_id  bytea NOT NULL CHECK (length(signature_id) = 32),
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, signature_id)
);
CREATE INDEX node_request_signatures_seen ON node_request_signatures (seen_at);
