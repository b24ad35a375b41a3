import BranchPostgres

/// What a project's database needs before the data API can serve it, as every Supabase project has it:
/// the API roles and their grants, pgcrypto in `extensions`, the `auth` schema with GoTrue's tables and
/// the `auth.uid()`-style helpers, and the schema version the REST schema cache polls.
///
/// One idempotent script, run as the superuser inside the caller's transaction. It can run again at
/// any time (also after a Supabase dump brought some of it along): roles and event triggers are
/// created only when missing, tables and indexes with IF NOT EXISTS, functions with CREATE OR
/// REPLACE. `_branch.bootstrap` records `version`, so callers skip it when `installedVersionQuery`
/// already answers `version`.
package enum DataAPIBootstrap {
    /// The script's version; raise it whenever `sql` changes.
    package static let version = 3

    /// The role the auth endpoints' connections log in as (it owns schema `auth`).
    package static let authRole = "supabase_auth_admin"
    /// The role REST requests log in as, then `set role` to anon, authenticated or service_role.
    package static let requestRole = "authenticator"

    /// The installed version (one row, one column `version`), NULL when `_branch.bootstrap` is empty,
    /// and no row at all when it does not exist yet; never fails, whatever the database holds.
    package static let installedVersionQuery = """
        select (xpath('//version/text()',
                      query_to_xml('select max(version) as version from _branch.bootstrap', false, false, '')))[1]::text::int as version
        where to_regclass('_branch.bootstrap') is not null
        """

    /// The script for a database owned by `databaseOwner`.
    package static func sql(databaseOwner: String) -> String {
        [schemaVersion, roles(databaseOwner: databaseOwner), extensions, publicGrants(databaseOwner: databaseOwner),
         authSchema, authTables, authFunctions, installed].joined(separator: "\n")
    }

    // MARK: Parts, in the order they run

    /// `_branch.schema_version`, bumped by event triggers on every DDL command, so the REST schema cache
    /// knows when to reload. Created first: every later statement of the script already bumps it.
    private static let schemaVersion = """
        create schema if not exists _branch authorization \(ClusterFiles.superuser);
        revoke all on schema _branch from public;
        create table if not exists _branch.schema_version (version bigint not null);
        insert into _branch.schema_version (version) select 0 where not exists (select from _branch.schema_version);
        create table if not exists _branch.bootstrap (version int not null);

        -- Security definer: it runs for any user's DDL, and only the superuser may touch _branch. It must
        -- never make that DDL fail, so it does nothing once the table is gone (DROP SCHEMA _branch).
        create or replace function _branch.bump_schema_version() returns event_trigger
        language plpgsql security definer set search_path = pg_catalog, pg_temp
        as $function$
        begin
          if to_regclass('_branch.schema_version') is not null then
            update _branch.schema_version set version = version + 1;
          end if;
        end
        $function$;
        revoke all on function _branch.bump_schema_version() from public;

        do $do$
        begin
          if not exists (select from pg_event_trigger where evtname = 'branch_schema_version') then
            create event trigger branch_schema_version on ddl_command_end execute function _branch.bump_schema_version();
          end if;
          if not exists (select from pg_event_trigger where evtname = 'branch_schema_version_drop') then
            create event trigger branch_schema_version_drop on sql_drop execute function _branch.bump_schema_version();
          end if;
        end
        $do$;
        """

    /// The API roles (cluster-wide, so created only when missing, also when another database of the
    /// cluster creates them at the same moment), with the attributes Supabase gives them. Roles and
    /// settings are only written when they differ, so runs in several databases do not collide.
    private static func roles(databaseOwner: String) -> String {
        let owner = SQL.identifier(databaseOwner)
        return """
            do $do$
            declare
              wanted record;
            begin
              for wanted in select * from (values
                  ('anon', false, false), ('authenticated', false, false), ('service_role', false, true),
                  ('authenticator', true, false), ('\(authRole)', true, false)) as r(name, login, bypassrls)
              loop
                if not exists (select from pg_roles where rolname = wanted.name) then
                  begin
                    execute format('create role %I %s noinherit %s', wanted.name,
                                   case when wanted.login then 'login' else 'nologin' end,
                                   case when wanted.bypassrls then 'bypassrls' else 'nobypassrls' end);
                  exception when duplicate_object or unique_violation then
                    null; -- created meanwhile from another database of the cluster
                  end;
                elsif exists (select from pg_roles where rolname = wanted.name
                              and (rolcanlogin <> wanted.login or rolinherit or rolbypassrls <> wanted.bypassrls
                                   or (rolname = '\(authRole)' and rolcreaterole))) then
                  execute format('alter role %I %s noinherit %s', wanted.name,
                                 case when wanted.login then 'login' else 'nologin' end,
                                 case when wanted.bypassrls then 'bypassrls' else 'nobypassrls' end);
                  if wanted.name = '\(authRole)' then
                    execute format('alter role %I nocreaterole', wanted.name);
                  end if;
                end if;
              end loop;
              if not exists (select from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
                             where r.rolname = '\(authRole)' and s.setdatabase = 0 and 'search_path=auth' = any (s.setconfig)) then
                alter role \(authRole) set search_path = auth;
              end if;
            end
            $do$;
            grant anon, authenticated, service_role to \(requestRole);
            grant anon, authenticated, service_role to \(owner);
            """
    }

    /// pgcrypto in `extensions`, where Supabase keeps it (the data API's search_path includes it). One
    /// installed elsewhere is moved there, since the auth endpoints call `extensions.crypt`.
    private static let extensions = """
        create schema if not exists extensions;
        do $do$
        begin
          if exists (select from pg_extension e join pg_namespace n on n.oid = e.extnamespace
                     where e.extname = 'pgcrypto' and n.nspname <> 'extensions') then
            alter extension pgcrypto set schema extensions;
          end if;
        end
        $do$;
        create extension if not exists pgcrypto with schema extensions;
        grant usage on schema extensions to anon, authenticated, service_role, supabase_auth_admin;
        """

    /// What Supabase grants in `public`: everything to the three API roles, now and for what the owner
    /// (and the superuser) create later; row level security decides what each one really sees.
    private static func publicGrants(databaseOwner: String) -> String {
        let owners = Array(Set([databaseOwner, ClusterFiles.superuser])).sorted()
        let defaults = owners.map { owner in
            let role = SQL.identifier(owner)
            return """
                alter default privileges for role \(role) in schema public grant all on tables to anon, authenticated, service_role;
                alter default privileges for role \(role) in schema public grant all on sequences to anon, authenticated, service_role;
                alter default privileges for role \(role) in schema public grant all on functions to anon, authenticated, service_role;
                """
        }
        return """
            grant usage on schema public to anon, authenticated, service_role;
            grant all on all tables in schema public to anon, authenticated, service_role;
            grant all on all sequences in schema public to anon, authenticated, service_role;
            grant all on all routines in schema public to anon, authenticated, service_role;
            """ + "\n" + defaults.joined(separator: "\n")
    }

    /// Schema `auth`, owned by the auth endpoints' role; the API roles may only call its functions.
    private static let authSchema = """
        create schema if not exists auth authorization supabase_auth_admin;
        alter schema auth owner to supabase_auth_admin;
        grant usage on schema auth to anon, authenticated, service_role;
        """

    /// GoTrue's tables with Supabase's column names and types, so dumps move both ways.
    private static let authTables = """
        create table if not exists auth.users (
          instance_id uuid,
          id uuid not null default gen_random_uuid() primary key,
          aud varchar(255),
          role varchar(255),
          email varchar(255),
          encrypted_password varchar(255),
          email_confirmed_at timestamptz,
          invited_at timestamptz,
          confirmation_token varchar(255),
          confirmation_sent_at timestamptz,
          recovery_token varchar(255),
          recovery_sent_at timestamptz,
          email_change_token_new varchar(255),
          email_change varchar(255),
          email_change_sent_at timestamptz,
          last_sign_in_at timestamptz,
          raw_app_meta_data jsonb,
          raw_user_meta_data jsonb,
          is_super_admin boolean,
          created_at timestamptz,
          updated_at timestamptz,
          phone text unique default null,
          phone_confirmed_at timestamptz,
          phone_change text default '',
          phone_change_token varchar(255) default '',
          phone_change_sent_at timestamptz,
          confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
          email_change_token_current varchar(255) default '',
          email_change_confirm_status smallint default 0 check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
          banned_until timestamptz,
          reauthentication_token varchar(255) default '',
          reauthentication_sent_at timestamptz,
          is_sso_user boolean not null default false,
          deleted_at timestamptz,
          is_anonymous boolean not null default false
        );
        -- Columns GoTrue added over the years, for auth.users tables from older Supabase dumps.
        alter table auth.users add column if not exists banned_until timestamptz;
        alter table auth.users add column if not exists is_sso_user boolean not null default false;
        alter table auth.users add column if not exists deleted_at timestamptz;
        alter table auth.users add column if not exists is_anonymous boolean not null default false;
        create unique index if not exists users_email_partial_key on auth.users (lower(email)) where not is_sso_user;
        create index if not exists users_instance_id_idx on auth.users (instance_id);

        create table if not exists auth.identities (
          provider_id text not null,
          user_id uuid not null references auth.users (id) on delete cascade,
          identity_data jsonb not null,
          provider text not null,
          last_sign_in_at timestamptz,
          created_at timestamptz,
          updated_at timestamptz,
          email text generated always as (lower(identity_data ->> 'email')) stored,
          id uuid not null default gen_random_uuid() primary key,
          constraint identities_provider_id_provider_unique unique (provider_id, provider)
        );
        create index if not exists identities_user_id_idx on auth.identities (user_id);

        create table if not exists auth.sessions (
          id uuid not null primary key,
          user_id uuid not null references auth.users (id) on delete cascade,
          created_at timestamptz,
          updated_at timestamptz,
          factor_id uuid,
          aal text,
          not_after timestamptz,
          refreshed_at timestamp,
          user_agent text,
          ip inet,
          tag text
        );
        create index if not exists sessions_user_id_idx on auth.sessions (user_id);

        create table if not exists auth.refresh_tokens (
          instance_id uuid,
          id bigserial primary key,
          token varchar(255) constraint refresh_tokens_token_unique unique,
          user_id varchar(255),
          revoked boolean,
          created_at timestamptz,
          updated_at timestamptz,
          parent varchar(255),
          session_id uuid references auth.sessions (id) on delete cascade
        );
        create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

        -- PKCE: a mailed link redirects with a code that the client exchanges with its verifier.
        do $do$
        begin
          if to_regtype('auth.code_challenge_method') is null then
            create type auth.code_challenge_method as enum ('s256', 'plain');
          end if;
        end
        $do$;
        create table if not exists auth.flow_state (
          id uuid not null primary key,
          user_id uuid,
          auth_code text not null,
          code_challenge_method auth.code_challenge_method not null,
          code_challenge text not null,
          provider_type text not null,
          provider_access_token text,
          provider_refresh_token text,
          created_at timestamptz,
          updated_at timestamptz,
          authentication_method text not null,
          auth_code_issued_at timestamptz
        );
        create index if not exists idx_auth_code on auth.flow_state (auth_code);
        create index if not exists idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);

        alter type auth.code_challenge_method owner to supabase_auth_admin;
        alter table auth.flow_state owner to supabase_auth_admin;
        alter table auth.users owner to supabase_auth_admin;
        alter table auth.identities owner to supabase_auth_admin;
        alter table auth.sessions owner to supabase_auth_admin;
        alter table auth.refresh_tokens owner to supabase_auth_admin;
        """

    /// Supabase's helpers for RLS policies, with the fallback to the legacy one-claim settings
    /// (`request.jwt.claim.sub`…) that dumped Supabase schemas still use.
    private static let authFunctions = """
        create or replace function auth.uid() returns uuid
        language sql stable set search_path to ''
        as $function$
          select coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
          )::uuid
        $function$;

        create or replace function auth.role() returns text
        language sql stable set search_path to ''
        as $function$
          select coalesce(
            nullif(current_setting('request.jwt.claim.role', true), ''),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
          )::text
        $function$;

        create or replace function auth.email() returns text
        language sql stable set search_path to ''
        as $function$
          select coalesce(
            nullif(current_setting('request.jwt.claim.email', true), ''),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
          )::text
        $function$;

        create or replace function auth.jwt() returns jsonb
        language sql stable set search_path to ''
        as $function$
          select coalesce(
            nullif(current_setting('request.jwt.claim', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')
          )::jsonb
        $function$;

        comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
        comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
        comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

        alter function auth.uid() owner to supabase_auth_admin;
        alter function auth.role() owner to supabase_auth_admin;
        alter function auth.email() owner to supabase_auth_admin;
        alter function auth.jwt() owner to supabase_auth_admin;
        grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to anon, authenticated, service_role;
        """

    /// Records this version, last, so a script that failed half-way is run again.
    private static let installed = """
        -- The REST schema cache polls the version before each request, as authenticator.
        grant usage on schema _branch to authenticator;
        grant select on _branch.schema_version to authenticator;
        delete from _branch.bootstrap;
        insert into _branch.bootstrap (version) values (\(version));
        """
}
