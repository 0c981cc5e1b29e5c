-- placeholder
CREATE SCHEMA IF NOT EXISTS httpq;
