-- 12_secret.sql: the secret store. Values arrive sealed and leave sealed.
--
-- Owns httpq.secret. The CLI seals a value (ChaCha20-Poly1305, bound to the secret's name
-- and the key's id) with a key the database never sees, and only the worker, which holds
-- the same key, opens it, just before it sends a request that names the secret in a
-- header or signs with it. Nothing here can read a value, so nothing here can leak one.
-- A secret belongs to an owner role: only its tenants (and admins) may name it in a
-- request or a channel's signing_keys.

CREATE TABLE httpq.secret (
    name   text PRIMARY KEY,
    owner  name NOT NULL,
    key_id text NOT NULL,         -- the id of the key that sealed it (see `httpq secret rekey`)
    sealed bytea NOT NULL,        -- nonce, ciphertext and tag
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by name NOT NULL,
    CONSTRAINT name_is_valid CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' AND length(name) <= 200),
    CONSTRAINT key_id_is_valid CHECK (key_id ~ '^[0-9a-f]{16}$'),
    -- A 12-byte nonce and a 16-byte tag around a value of 1 byte to 64 KiB.
    CONSTRAINT sealed_length CHECK (octet_length(sealed) BETWEEN 29 AND 65564)
);

-- Raises a clear error for a secret name, key id or sealed value that cannot be one.
CREATE FUNCTION httpq._check_secret(name text, key_id text, sealed bytea) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9][A-Za-z0-9._:@/-]*$' OR length(name) > 200 THEN
        RAISE EXCEPTION 'secret name % is not a valid name', coalesce(httpq._quoted(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1 to 200 characters: letters, digits and . _ : @ / -, starting with a letter or digit.';
    END IF;
    IF key_id IS NULL OR key_id !~ '^[0-9a-f]{16}$' THEN
        RAISE EXCEPTION 'key_id must be the 16 hex digits of the sealing key''s id'
            USING ERRCODE = 'invalid_parameter_value', HINT = '`httpq secret set` seals values and names the key.';
    END IF;
    IF sealed IS NULL OR octet_length(sealed) NOT BETWEEN 29 AND 65564 THEN
        RAISE EXCEPTION 'sealed must be a sealed value of 1 byte to 64 KiB (29 to 65564 bytes sealed), got %',
                        coalesce(octet_length(sealed)::text || ' bytes', 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = '`httpq secret set` seals values.';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_secret(text, text, bytea) IS 'Raises a clear error for a malformed secret name, key id or sealed value.';

-- Stores a sealed secret under a name, replacing its value if it exists. owner: the role
-- whose tenants may use it (NULL: the existing owner, or the caller for a new secret).
-- Use `httpq secret set`, which seals the value; this function never sees it.
CREATE FUNCTION httpq.set_secret(name text, key_id text, sealed bytea, owner text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('set secrets');
    PERFORM httpq._check_secret(name, key_id, sealed);
    IF owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = set_secret.owner) THEN
        RAISE EXCEPTION 'owner: role % does not exist', quote_ident(owner) USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO httpq.secret AS s (name, owner, key_id, sealed, set_at, set_by)
    VALUES (set_secret.name, coalesce(set_secret.owner, httpq._caller()), set_secret.key_id, set_secret.sealed,
            httpq._now(), httpq._caller())
    ON CONFLICT ON CONSTRAINT secret_pkey DO UPDATE
        SET owner = coalesce(set_secret.owner, s.owner), key_id = excluded.key_id, sealed = excluded.sealed,
            set_at = excluded.set_at, set_by = excluded.set_by;
END;
$$;
COMMENT ON FUNCTION httpq.set_secret(text, text, bytea, text)
    IS 'Stores a sealed secret (use `httpq secret set`, which seals it); admin only.';

-- Replaces a secret's sealed value with the same value sealed under another key, unless
-- it changed since it was read (previous); true when replaced. For `httpq secret rekey`.
CREATE FUNCTION httpq.reseal_secret(name text, key_id text, sealed bytea, previous bytea) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('reseal secrets');
    PERFORM httpq._check_secret(name, key_id, sealed);
    UPDATE httpq.secret s SET key_id = reseal_secret.key_id, sealed = reseal_secret.sealed
    WHERE s.name = reseal_secret.name AND s.sealed = reseal_secret.previous;
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.reseal_secret(text, text, bytea, bytea)
    IS 'Replaces a secret''s sealed value by the same value under another key, unless it changed; admin only.';

-- Deletes a secret; false when there is none. A secret a channel signs with is refused:
-- its deliveries would stop.
CREATE FUNCTION httpq.delete_secret(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    users text;
BEGIN
    PERFORM httpq._check_admin('delete secrets');
    SELECT string_agg(quote_literal(c.name), ', ' ORDER BY c.name) INTO users
    FROM httpq.channel c WHERE delete_secret.name = ANY (c.signing_keys) OR delete_secret.name = c.aws_credentials;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'secret % signs the deliveries of channel %', quote_literal(name), users
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Take it out of their signing_keys or aws_credentials first: SELECT httpq.set_channel(channel, signing_keys => ...).';
    END IF;
    DELETE FROM httpq.secret s WHERE s.name = delete_secret.name;
    RETURN FOUND;
END;
$$;
COMMENT ON FUNCTION httpq.delete_secret(text) IS 'Deletes a secret; admin only. Refused while a channel signs with it (signing_keys, aws_credentials).';

-- Every secret's sealed value, for `httpq secret rekey` (which opens and seals them again).
CREATE FUNCTION httpq.sealed_secrets() RETURNS TABLE (name text, key_id text, sealed bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM httpq._check_admin('read sealed secrets');
    RETURN QUERY SELECT s.name, s.key_id, s.sealed FROM httpq.secret s ORDER BY s.name;
END;
$$;
COMMENT ON FUNCTION httpq.sealed_secrets() IS 'Every secret''s sealed value, for re-sealing under a new key; admin only.';

-- The sealed values of the named secrets, for the worker: {"name": {"key_id": ..., "sealed":
-- base64 on one line}}, only of secrets the channel's owner may use (checked again at each
-- claim: a secret's owner may have changed since the request was enqueued; a shared
-- channel, owner NULL, takes any). A name left out is reported by the worker as not in
-- the store, and nothing is sent.
CREATE FUNCTION httpq._sealed(names text[], channel_owner name) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: a claim calls it per request that names a secret, and a SQL body that pins
    -- search_path is planned anew on every call.
    RETURN (SELECT coalesce(jsonb_object_agg(s.name, jsonb_build_object(
                                'key_id', s.key_id, 'sealed', translate(encode(s.sealed, 'base64'), E'\n', ''))),
                            '{}')
            FROM httpq.secret s
            WHERE s.name = ANY (names)
              AND (channel_owner IS NULL OR s.owner = channel_owner OR httpq._member(channel_owner, s.owner)
                   OR httpq._has_kind(channel_owner, 'admin')));
END;
$$;
COMMENT ON FUNCTION httpq._sealed(text[], name) IS 'The sealed values of the named secrets a channel''s owner may use, as the worker reads them.';

-- The secret names a set of request headers refers to ({"secret": "NAME", "prefix": ...}
-- values), or NULL when none.
CREATE FUNCTION httpq._secret_names(headers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names text[];
BEGIN
    IF headers IS NULL OR NOT jsonb_path_exists(headers, '$.* ? (@.type() == "object")') THEN
        RETURN NULL;
    END IF;
    names := ARRAY(SELECT DISTINCT h.value ->> 'secret' FROM jsonb_each(headers) AS h
                   WHERE jsonb_typeof(h.value) = 'object' ORDER BY 1);
    RETURN CASE WHEN cardinality(names) > 0 THEN names END;
END;
$$;
COMMENT ON FUNCTION httpq._secret_names(jsonb) IS 'The names of the secrets request headers refer to, or NULL.';

-- Raises unless every named secret exists and role may use it: role owns it (or belongs
-- to its owner), or is an admin. role is the owner of the channel the secrets are for (the
-- caller, for a shared channel), as each claim checks again (httpq._sealed). One message
-- for a missing and a foreign secret: a role cannot learn which of others' secrets exist.
-- what: where the names come from, for the message.
CREATE FUNCTION httpq._check_secret_use(names text[], what text, role name) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    refused text;
BEGIN
    SELECT n INTO refused FROM unnest(names) AS n
    WHERE NOT EXISTS (SELECT 1 FROM httpq.secret s
                      WHERE s.name = n AND (s.owner = role OR httpq._member(role, s.owner) OR httpq._has_kind(role, 'admin')))
    ORDER BY n LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: role % has no secret %', what, quote_ident(role), httpq._quoted(refused)
            USING ERRCODE = 'undefined_object',
                  HINT = 'An admin stores it for the role: httpq secret set NAME --owner ROLE';
    END IF;
END;
$$;
COMMENT ON FUNCTION httpq._check_secret_use(text[], text, name) IS 'Raises unless the named secrets exist and a role may use them.';
