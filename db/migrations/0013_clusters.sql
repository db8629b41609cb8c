-- 0013_clusters.sql: the Kubernetes clusters an account deploys to.
-- Rules: api/clusters.c.

CREATE TABLE clusters (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id         uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
    kind               text NOT NULL CHECK (kind IN ('aks', 'kubernetes')),
    -- aks: the managed cluster and the SGX node pool Cloister keeps
    subscription_id    text,
    resource_group     text,
    cluster_name       text,
    node_pool          jsonb,
    -- kubernetes: from the kubeconfig (the kubeconfig itself is sealed)
    server             text,
    context            text,     -- the kubeconfig's context deployed through
    auth               text CHECK (auth IN ('token', 'client_certificate', 'kubelogin',
                                            'service_principal')),
    -- Azure service-principal credentials (aks, or a kubelogin kubeconfig)
    tenant_id          text,
    client_id          text,
    secret_sealed      text,     -- the client secret, sealed
    kubeconfig_sealed  text,     -- the kubeconfig, sealed
    check_job          uuid,
    last_check         jsonb,
    checked_at         timestamptz,
    created_by         text NOT NULL,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
CREATE INDEX clusters_account ON clusters (account_id, created_at, id);
