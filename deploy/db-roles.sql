-- One of the platform's database roles on a production server, with its password (psql
-- variables `role`, `password`, `privileges`). `deploy/setup.sh --roles` runs it as an
-- administrator, connected to the platform's database, for each role common/registry.py lists
-- (`python3 -m common.registry roles`):
--   platform_owner      owns the schemas; migrations log in as it (MIGRATION_DATABASE_URL);
--                       privileges CREATE, CONNECT
--   platform_<service>  each service's login (its DATABASE_URL); privileges CONNECT
-- What each service may do inside its schema is granted by the migrations. Idempotent: run it
-- again to change the password.
SELECT format('CREATE ROLE %I', :'role')
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" LOGIN PASSWORD :'password';
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT %s ON DATABASE %I TO %I', :'privileges', current_database(), :'role') \gexec
