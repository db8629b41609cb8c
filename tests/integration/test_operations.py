"""Operations: `cloisterd rekey` (every secret resealed under a new
key-encryption key in one transaction) and backup and restore with
pg_dump/pg_restore (docs/operations.md)."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest
import uuid

from cloister_test import (Api, CLOISTERD, WORKER, Daemon, create_admin, new_database, pg_dir,
                           psql)

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: ci
  user: {token: "a-service-account-token"}
contexts:
- name: lab
  context: {cluster: lab, user: ci}
current-context: lab
"""

# every sealed column, and how many values the setUp puts in it
SEALED = {("registries", "password_sealed"): 1, ("signing_keys", "key_sealed"): 1,
          ("account_cas", "key_sealed"): 1, ("app_secrets", "value_sealed"): 2,
          ("clusters", "secret_sealed"): 1, ("clusters", "kubeconfig_sealed"): 1,
          ("kek_check", "sealed"): 1}


def new_key(directory, name):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(path, 0o600)
    return path


def account_with_secrets(api):
    """An account with a value in every sealed column."""
    account = api.ok("POST", "/v1/accounts", {"name": "o-" + uuid.uuid4().hex[:8]}, want=201)
    api.ok("POST", "/v1/session/account", {"account_id": account["id"]})
    api.ok("POST", "/v1/registries", {"name": "private", "host": "registry.example.com",
                                      "username": "robot", "password": "hunter2"}, want=201)
    pem = subprocess.run(["openssl", "genrsa", "-3", "3072"], capture_output=True, text=True,
                         check=True).stdout
    api.ok("POST", "/v1/signing-keys", {"private_key_pem": pem}, want=201)
    app = api.ok("POST", "/v1/apps", {"name": "web", "input_image": "nginx:1.25",
                                      "output_image": "registry.example.com/acme/web:v1"},
                 want=201)
    api.ok("PUT", f"/v1/apps/{app['id']}/secrets/DB_PASSWORD", {"value": "s3cret"})
    api.ok("POST", f"/v1/apps/{app['id']}/secrets/TLS/generate",     # and the account CA
           {"kind": "certificate", "names": ["web.example.com"]}, want=201)
    api.ok("POST", "/v1/clusters", {"name": "lab", "kind": "kubernetes",
                                    "kubeconfig": KUBECONFIG}, want=201)
    api.ok("POST", "/v1/clusters", {
        "name": "prod", "kind": "aks", "subscription_id": str(uuid.uuid4()),
        "resource_group": "rg", "cluster_name": "prod",
        "azure": {"tenant_id": str(uuid.uuid4()), "client_id": str(uuid.uuid4()),
                  "client_secret": "an-azure-secret"},
        "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC4s_v3", "count": 1}},
        want=201)
    return account, app


class Rekey(unittest.TestCase):
    """cloisterd rekey opens every sealed value with the old key and seals it
    under the new one, all or nothing; daemons and workers given the old key
    afterwards refuse to start."""

    def setUp(self):
        self.url, self.dbname = new_database()
        self.d = Daemon(self.url).start()
        self.addCleanup(self.d.close)
        self.password = create_admin(self.d)
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        self.account, self.app = account_with_secrets(self.api)
        self.d.stop()
        self.dir = tempfile.mkdtemp(prefix="cl-rekey-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def sql(self, text):
        return psql(text, dbname=self.dbname)

    def rekey(self, old, new):
        res = subprocess.run([CLOISTERD, "rekey", f"--kek-file={old}", f"--new-kek-file={new}",
                              "--log-format=text"], env=self.d.env, capture_output=True,
                             text=True, timeout=120)
        return res.returncode, res.stdout + res.stderr

    def sealed_values(self):
        return {(t, c): self.sql(f"SELECT {c} FROM {t} WHERE {c} IS NOT NULL ORDER BY 1")
                for t, c in SEALED}

    def test_every_secret_is_resealed_and_the_old_key_is_refused(self):
        for (t, c), n in SEALED.items():
            self.assertEqual(int(self.sql(f"SELECT count({c}) FROM {t}")), n, (t, c))
        before = self.sealed_values()
        new = new_key(self.dir, "kek.new")
        rc, out = self.rekey(self.d.kek, new)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"Resealed {sum(SEALED.values())} secrets", out)
        after = self.sealed_values()
        for col in SEALED:
            self.assertNotEqual(before[col], after[col], col)
        self.assertEqual(self.sql("SELECT details->>'resealed' FROM audit_events "
                                  "WHERE action = 'kek.rotate' AND account_id IS NULL"),
                         str(sum(SEALED.values())))
        # every value opens under the new key: rekeying again from it works
        rc, out = self.rekey(new, new_key(self.dir, "kek.third"))
        self.assertEqual(rc, 0, out)
        # and the daemon, given a key that is no longer the database's, stops
        rc, out = Daemon(self.url, env={"CLOISTER_KEK_FILE": new}).run(timeout=60)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not the one this database's secrets are sealed under", out)
        res = subprocess.run([WORKER, "--poll-interval=1"], capture_output=True, text=True,
                             env=dict(self.d.env, CLOISTER_KEK_FILE=new), timeout=60)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("is not the one this database's secrets are sealed under", res.stderr)
        d = Daemon(self.url, env={"CLOISTER_KEK_FILE": os.path.join(self.dir, "kek.third")})
        self.addCleanup(d.close)
        d.start()
        api = Api(d)
        api.login("admin@example.com", self.password)
        api.ok("POST", "/v1/session/account", {"account_id": self.account["id"]})
        self.assertTrue(api.ok("GET", "/v1/audit/verify")["valid"])
        # the account CA's key opens: it signs a new certificate
        api.ok("POST", f"/v1/apps/{self.app['id']}/secrets/TLS2/generate",
               {"kind": "certificate", "names": ["api.example.com"]}, want=201)

    def test_a_value_that_does_not_open_changes_nothing(self):
        other = new_key(self.dir, "kek.other")
        bad = self.sql("SELECT id FROM registries")
        # a value sealed for another row: well-formed, but it does not open here
        self.sql(f"UPDATE registries SET password_sealed = (SELECT value_sealed FROM "
                 f"app_secrets WHERE name = 'DB_PASSWORD') WHERE id = '{bad}'")
        before = self.sealed_values()
        rc, out = self.rekey(self.d.kek, other)
        self.assertNotEqual(rc, 0)
        self.assertIn(f"a value of registries.password_sealed (registry:{bad}) does not open",
                      out)
        self.assertIn("nothing was changed", out)
        self.assertEqual(self.sealed_values(), before)
        self.assertEqual(self.sql("SELECT count(*) FROM audit_events "
                                  "WHERE action = 'kek.rotate'"), "0")

    def test_a_sealed_column_rekey_does_not_know_stops_it(self):
        self.sql("ALTER TABLE apps ADD COLUMN token_sealed text")
        before = self.sealed_values()
        rc, out = self.rekey(self.d.kek, new_key(self.dir, "kek.new"))
        self.assertNotEqual(rc, 0)
        self.assertIn("apps.token_sealed looks sealed but rekey does not know it", out)
        self.assertEqual(self.sealed_values(), before)

    def test_the_new_key_must_differ_and_exist(self):
        rc, out = self.rekey(self.d.kek, self.d.kek)
        self.assertNotEqual(rc, 0)
        self.assertIn("--new-kek-file holds the key already in use", out)
        rc, out = Daemon(self.url, command="rekey").run()
        self.assertNotEqual(rc, 0)
        self.assertIn("rekey needs --new-kek-file", out)

    def test_a_wrong_old_key_changes_nothing(self):
        before = self.sealed_values()
        rc, out = self.rekey(new_key(self.dir, "kek.wrong"), new_key(self.dir, "kek.new"))
        self.assertNotEqual(rc, 0)
        self.assertIn("is not the one this database's secrets are sealed under", out)
        self.assertEqual(self.sealed_values(), before)


class BackupRestore(unittest.TestCase):
    """A pg_dump of a running instance, restored with pg_restore into a new
    database: the daemon starts on it with the same key, the data is there,
    the audit chains verify and the secrets open (docs/operations.md)."""

    def test_dump_restore_and_serve(self):
        url, dbname = new_database()
        d = Daemon(url).start()
        self.addCleanup(d.close)
        password = create_admin(d)
        api = Api(d)
        api.login("admin@example.com", password)
        account, app = account_with_secrets(api)
        tmp = tempfile.mkdtemp(prefix="cl-backup-")
        self.addCleanup(shutil.rmtree, tmp, True)
        dump = os.path.join(tmp, "cloister.dump")
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", "-h", pg_dir(),
                        "-U", "cloister", dbname], check=True, capture_output=True)
        d.stop()

        target = "r_" + uuid.uuid4().hex[:16]
        psql(f"CREATE DATABASE {target}")
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-h", pg_dir(),
                        "-U", "cloister", "-d", target, dump], check=True, capture_output=True)
        restored = Daemon(f"host={pg_dir()} user=cloister dbname={target}",
                          env={"CLOISTER_KEK_FILE": d.kek})
        self.addCleanup(restored.close)
        restored.start()
        api = Api(restored)
        self.assertEqual(api.login("admin@example.com", password)[0], 200)
        api.ok("POST", "/v1/session/account", {"account_id": account["id"]})
        self.assertEqual([a["name"] for a in api.ok("GET", "/v1/apps")["items"]], ["web"])
        verify = api.ok("GET", "/v1/audit/verify")
        self.assertTrue(verify["valid"], verify)
        api.ok("POST", f"/v1/apps/{app['id']}/secrets/TLS2/generate",
               {"kind": "certificate", "names": ["api.example.com"]}, want=201)
        # the restored instance writes on where the chain ended
        self.assertTrue(api.ok("GET", "/v1/audit/verify")["valid"])


if __name__ == "__main__":
    unittest.main()
