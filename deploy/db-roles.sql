-- The platform's database roles on a production server, with passwords (psql variables; run by
-- `deploy/setup.sh --roles` as an administrator, connected to the platform's database):
--   platform_owner     owns the schemas; migrations log in as it (MIGRATION_DATABASE_URL)
--   platform_accounts  the accounts service's login (its DATABASE_URL)
--   platform_notify    the notify service's login (its DATABASE_URL)
-- What each service may do inside its schema is granted by the migrations. Idempotent: run it
-- again to change the passwords.
SELECT format('CREATE ROLE %I', name) FROM (VALUES ('platform_owner'), ('platform_accounts'),
    ('platform_notify')) AS r(name)
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE platform_owner LOGIN PASSWORD :'owner_password';
ALTER ROLE platform_accounts LOGIN PASSWORD :'accounts_password';
ALTER ROLE platform_notify LOGIN PASSWORD :'notify_password';
SELECT format('GRANT CREATE, CONNECT ON DATABASE %I TO platform_owner', current_database()) \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO platform_accounts, platform_notify',
              current_database()) \gexec
