"""Migrations: applied once, in order, under a lock; a changed file refused;
readiness follows the schema."""
import os
import shutil
import tempfile
import threading
import unittest

from cloister_test import SOURCE_DIR, Daemon, new_database, psql

MIGRATIONS = os.path.join(SOURCE_DIR, "db", "migrations")


class Migrations(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cl-migrations-")
        self.migrations = os.path.join(self.dir, "migrations")
        shutil.copytree(MIGRATIONS, self.migrations)
        self.url, self.db = new_database()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def daemon(self, *args, command="serve"):
        d = Daemon(self.url, *args, command=command,
                   env={"CLOISTER_MIGRATIONS_DIR": self.migrations})
        self.addCleanup(d.close)
        return d

    def add(self, name, sql):
        with open(os.path.join(self.migrations, name), "w") as f:
            f.write(sql)

    def applied(self):
        rows = psql("SELECT version || ' ' || name FROM schema_migrations ORDER BY version",
                    dbname=self.db)
        return rows.splitlines()

    def test_migrate_command_applies_once(self):
        code, out = self.daemon(command="migrate").run()
        self.assertEqual(code, 0, out)
        files = sorted(f for f in os.listdir(self.migrations) if f.endswith(".sql"))
        self.assertEqual([r.split(" ", 1)[1] for r in self.applied()], files)
        self.assertIn("applied=%d " % len(files), out)
        code, out = self.daemon(command="migrate").run()
        self.assertEqual(code, 0, out)
        self.assertIn("applied=0 ", out)

    def test_changed_migration_is_refused(self):
        self.assertEqual(self.daemon(command="migrate").run()[0], 0)
        first = sorted(os.listdir(self.migrations))[0]
        with open(os.path.join(self.migrations, first), "a") as f:
            f.write("\n-- an edit after the fact\n")
        for command in ("migrate", "serve"):
            code, out = self.daemon(command=command).run()
            self.assertEqual(code, 1, out)
            self.assertIn(f'migration "{first}" was changed after it was applied', out)

    def test_missing_and_out_of_order_migrations_are_refused(self):
        self.add("9000_later.sql", "CREATE TABLE later (id int);")
        self.assertEqual(self.daemon(command="migrate").run()[0], 0)
        self.add("8999_sneaked_in.sql", "CREATE TABLE sneaked (id int);")
        code, out = self.daemon(command="migrate").run()
        self.assertEqual(code, 1)
        self.assertIn('"8999_sneaked_in.sql" was never applied', out)
        os.remove(os.path.join(self.migrations, "8999_sneaked_in.sql"))
        os.remove(os.path.join(self.migrations, "9000_later.sql"))
        code, out = self.daemon(command="migrate").run()
        self.assertEqual(code, 1)
        self.assertIn('"9000_later.sql" is applied in the database but missing', out)

    def test_failed_migration_changes_nothing(self):
        self.add("9000_broken.sql",
                 "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
        code, out = self.daemon(command="migrate").run()
        self.assertEqual(code, 1)
        self.assertIn('migration "9000_broken.sql" failed at character', out)
        self.assertIn("function no_such_function() does not exist", out)
        self.assertEqual(psql("SELECT to_regclass('half_done') IS NULL", dbname=self.db), "t")
        self.assertNotIn("9000 9000_broken.sql", self.applied())

    def test_without_migrate_a_pending_schema_refuses_to_start(self):
        code, out = self.daemon("--migrate=false").run()
        self.assertEqual(code, 1)
        self.assertIn("not applied", out)
        # a check only: nothing was written
        self.assertEqual(psql("SELECT to_regclass('schema_migrations') IS NULL",
                              dbname=self.db), "t")

    def test_readyz_follows_the_schema(self):
        d = self.daemon().start()
        try:
            self.assertEqual(d.request("GET", "/readyz")[0], 200)
            psql("DELETE FROM schema_migrations WHERE version = "
                 "(SELECT max(version) FROM schema_migrations)", dbname=self.db)
            status, headers, doc = d.get_json("/readyz")
            self.assertEqual(status, 503)
            self.assertIn("retry-after", headers)
            self.assertIn("migrations", doc["checks"])
            self.assertRegex(doc["detail"], r"^not ready: 1 migration\(s\) not applied")
        finally:
            d.stop()

    def test_two_daemons_starting_at_once(self):
        # a slow migration widens the window in which both would apply it
        self.add("9000_slow.sql", "SELECT pg_sleep(1);\nCREATE TABLE raced (id int);\n")
        daemons = [self.daemon(), self.daemon()]
        threads = [threading.Thread(target=d.start) for d in daemons]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            for d in daemons:
                self.assertEqual(d.request("GET", "/readyz")[0], 200, d.output())
            versions = [r.split(" ")[0] for r in self.applied()]
            self.assertEqual(len(versions), len(set(versions)))
            self.assertIn("9000", versions)
            applied = sum(l.get("applied", 0) for d in daemons for l in d.log_lines()
                          if l["msg"] == "database schema is current")
            self.assertEqual(applied, len(versions))
        finally:
            for d in daemons:
                d.stop()


if __name__ == "__main__":
    unittest.main()
