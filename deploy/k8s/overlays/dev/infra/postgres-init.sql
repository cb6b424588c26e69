-- Shared by compose.yaml and the dev overlay of deploy/k8s.
-- Runs once, when the PostgreSQL volume is created: one role and one database per service that keeps state.
-- Each service creates its own schema (DB_SCHEMA) inside its database through its migrations.
CREATE ROLE auth_svc LOGIN PASSWORD 'auth_svc';
CREATE ROLE video_svc LOGIN PASSWORD 'video_svc';
CREATE ROLE notify_svc LOGIN PASSWORD 'notify_svc';
CREATE ROLE webhook_svc LOGIN PASSWORD 'webhook_svc';
CREATE DATABASE auth OWNER auth_svc;
CREATE DATABASE video OWNER video_svc;
CREATE DATABASE notify OWNER notify_svc;
CREATE DATABASE webhook OWNER webhook_svc;
REVOKE ALL ON DATABASE auth FROM PUBLIC;
REVOKE ALL ON DATABASE video FROM PUBLIC;
REVOKE ALL ON DATABASE notify FROM PUBLIC;
REVOKE ALL ON DATABASE webhook FROM PUBLIC;
