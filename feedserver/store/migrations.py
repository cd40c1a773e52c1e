"""Schema migrations, applied in order; each runs in its own transaction and is recorded in
``schema_migrations``. Never edit a released migration: add a new one.

One history for both backends. A statement is written in SQLite's DDL; the PostgreSQL backend
translates its types (``feedserver.store.dialects``). What cannot be translated (triggers) is
a ``Dialects`` pair that says it once for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialects:
    """One statement as each backend writes it."""

    sqlite: str  # "": nothing to do on this backend
    postgresql: str

    def get(self, backend: str) -> str:
        return self.postgresql if backend == "postgresql" else self.sqlite


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str | Dialects, ...]

    def for_backend(self, backend: str) -> list[str]:
        texts = [s if isinstance(s, str) else s.get(backend) for s in self.statements]
        return [text for text in texts if text]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "bookings domain",
        (
            """CREATE TABLE locations (
                id INTEGER PRIMARY KEY,
                code TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                address TEXT NOT NULL DEFAULT '',
                timezone TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE reservation_types (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                duration_minutes INTEGER NOT NULL,
                buffer_before_minutes INTEGER NOT NULL DEFAULT 0,
                buffer_after_minutes INTEGER NOT NULL DEFAULT 0,
                online INTEGER NOT NULL DEFAULT 0,
                color TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
                password_hash TEXT,
                timezone TEXT NOT NULL,
                primary_location_id INTEGER REFERENCES locations(id),
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE bookings (
                id INTEGER PRIMARY KEY,
                uid TEXT NOT NULL UNIQUE,
                type_id INTEGER NOT NULL REFERENCES reservation_types(id),
                location_id INTEGER NOT NULL REFERENCES locations(id),
                staff_id INTEGER NOT NULL REFERENCES users(id),
                start_utc TEXT NOT NULL,
                end_utc TEXT NOT NULL,
                last_end_utc TEXT,
                timezone TEXT NOT NULL,
                all_day INTEGER NOT NULL DEFAULT 0,
                rrule TEXT,
                exdates TEXT NOT NULL DEFAULT '[]',
                status TEXT NOT NULL
                    CHECK (status IN ('pending', 'confirmed', 'cancelled', 'rejected')),
                title TEXT NOT NULL DEFAULT '',
                notes TEXT NOT NULL DEFAULT '',
                sequence INTEGER NOT NULL DEFAULT 0,
                source TEXT NOT NULL DEFAULT 'api',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                CHECK (end_utc > start_utc)
            )""",
            "CREATE INDEX bookings_staff_start ON bookings (staff_id, start_utc)",
            "CREATE INDEX bookings_start ON bookings (start_utc)",
            """CREATE TABLE booking_attendees (
                booking_id INTEGER NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                email TEXT NOT NULL COLLATE NOCASE,
                name TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (booking_id, email)
            )""",
            "CREATE INDEX booking_attendees_email ON booking_attendees (email)",
            """CREATE TABLE changes (
                version INTEGER PRIMARY KEY AUTOINCREMENT,
                entity TEXT NOT NULL,
                entity_id INTEGER NOT NULL,
                action TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "feed links and feed templates",
        (
            """CREATE TABLE feed_links (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id),
                name TEXT NOT NULL,
                scope TEXT NOT NULL CHECK (scope IN ('own', 'all')),
                filters TEXT NOT NULL,
                nonce TEXT NOT NULL,
                revoked_at TEXT,
                content_etag TEXT,
                content_changed_at TEXT,
                last_fetched_at TEXT,
                fetch_count INTEGER NOT NULL DEFAULT 0,
                last_user_agent TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX feed_links_user ON feed_links (user_id)",
            """CREATE TABLE feed_templates (
                id INTEGER PRIMARY KEY,
                type_id INTEGER UNIQUE REFERENCES reservation_types(id) ON DELETE CASCADE,
                summary TEXT NOT NULL,
                description TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "ALTER TABLE reservation_types ADD COLUMN attendees_visible INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        3,
        "app passwords and CalDAV publishing state",
        (
            """CREATE TABLE app_passwords (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id),
                name TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                last_used_at TEXT,
                revoked_at TEXT
            )""",
            "CREATE INDEX app_passwords_user ON app_passwords (user_id)",
            """CREATE TABLE caldav_published (
                user_id INTEGER NOT NULL,
                booking_id INTEGER NOT NULL,
                principal TEXT NOT NULL,
                href TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                PRIMARY KEY (user_id, booking_id)
            )""",
            "CREATE INDEX caldav_published_booking ON caldav_published (booking_id)",
            """CREATE TABLE consumer_cursors (
                name TEXT PRIMARY KEY,
                version INTEGER NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "notifications outbox, settings, templates and online meetings",
        (
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY,
                idempotency_key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                booking_id INTEGER,
                recipient_email TEXT NOT NULL,
                recipient_name TEXT NOT NULL DEFAULT '',
                subject TEXT NOT NULL,
                body_text TEXT NOT NULL,
                body_html TEXT NOT NULL,
                ics TEXT,
                ics_method TEXT,
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_error TEXT,
                created_at TEXT NOT NULL,
                sent_at TEXT
            )""",
            "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
            "CREATE INDEX outbox_booking ON outbox (booking_id)",
            """CREATE TABLE notification_settings (
                user_id INTEGER PRIMARY KEY REFERENCES users(id),
                booked INTEGER NOT NULL,
                cancelled INTEGER NOT NULL,
                rejected INTEGER NOT NULL,
                short_notice INTEGER NOT NULL
            )""",
            """CREATE TABLE email_templates (
                audience TEXT NOT NULL,
                kind TEXT NOT NULL,
                language TEXT NOT NULL,
                subject TEXT NOT NULL,
                body TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (audience, kind, language)
            )""",
            """CREATE TABLE meetings (
                id INTEGER PRIMARY KEY,
                booking_id INTEGER NOT NULL UNIQUE REFERENCES bookings(id),
                provider TEXT NOT NULL,
                room_url TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE meeting_links (
                id INTEGER PRIMARY KEY,
                meeting_id INTEGER NOT NULL REFERENCES meetings(id),
                attendee_email TEXT NOT NULL COLLATE NOCASE,
                nonce TEXT NOT NULL,
                clicks INTEGER NOT NULL DEFAULT 0,
                last_click_at TEXT,
                revoked_at TEXT,
                created_at TEXT NOT NULL,
                UNIQUE (meeting_id, attendee_email)
            )""",
        ),
    ),
    Migration(
        5,
        "bridge inbox and event mapping",
        (
            """CREATE TABLE inbox (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                received_at TEXT NOT NULL,
                raw BLOB NOT NULL,
                size INTEGER NOT NULL,
                principal TEXT,
                path TEXT,
                status TEXT NOT NULL DEFAULT 'received' CHECK (status IN
                    ('received', 'processed', 'ignored', 'rejected', 'failed')),
                reason TEXT NOT NULL DEFAULT '',
                attempts INTEGER NOT NULL DEFAULT 0,
                processed_at TEXT,
                booking_ids TEXT NOT NULL DEFAULT '[]'
            )""",
            "CREATE INDEX inbox_status ON inbox (status)",
            """CREATE TABLE bridge_events (
                uid TEXT NOT NULL,
                recurrence_id TEXT NOT NULL,
                booking_id INTEGER REFERENCES bookings(id),
                organizer TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                dtstamp TEXT NOT NULL,
                cancelled INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (uid, recurrence_id)
            )""",
            "CREATE INDEX bridge_events_booking ON bridge_events (booking_id)",
            """CREATE TABLE caldav_items (
                path TEXT NOT NULL,
                href TEXT NOT NULL,
                uid TEXT NOT NULL,
                etag TEXT NOT NULL,
                PRIMARY KEY (path, href)
            )""",
            """CREATE TABLE caldav_sync (
                path TEXT PRIMARY KEY,
                token TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        6,
        "typed inbox outcomes",
        (
            # Why an item failed ('' when it did not): malformed and too_large are final,
            # error and configuration are retried. Deletions get a flag of their own instead
            # of a "DELETE " prefix on the path.
            "ALTER TABLE inbox ADD COLUMN failure TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE inbox ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0",
            "UPDATE inbox SET deleted = 1, path = substr(path, 8) WHERE path LIKE 'DELETE %'",
            """UPDATE inbox SET failure = CASE
                WHEN reason LIKE 'malformed%' THEN 'malformed'
                WHEN reason LIKE 'too large%' THEN 'too_large'
                ELSE 'error' END
               WHERE status = 'failed'""",
        ),
    ),
    Migration(
        7,
        "private titles, inbox quota and retention, outbox retry window",
        (
            # Attendees see a booking's own title only when its type says so.
            "ALTER TABLE reservation_types ADD COLUMN title_visible INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX inbox_principal ON inbox (principal)",
            "CREATE INDEX inbox_received ON inbox (received_at)",
            # Since when a notification is retried: its creation, or an admin's retry.
            "ALTER TABLE outbox ADD COLUMN retry_since TEXT",
            "UPDATE outbox SET retry_since = created_at",
        ),
    ),
    Migration(
        8,
        "web sessions, account language",
        (
            # A signed-in browser: the cookie holds a random id, the table only its SHA-256.
            """CREATE TABLE web_sessions (
                id_digest TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL
            )""",
            "CREATE INDEX web_sessions_user ON web_sessions (user_id)",
            # The language of the web app and of emails for this person ('' = the browser's).
            "ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT ''",
        ),
    ),
    Migration(
        9,
        "online types that also meet on site",
        ("ALTER TABLE reservation_types ADD COLUMN on_site INTEGER NOT NULL DEFAULT 0",),
    ),
    Migration(
        10,
        "more notification switches, reminders",
        (
            "ALTER TABLE notification_settings ADD COLUMN changed INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE notification_settings ADD COLUMN reminder INTEGER NOT NULL DEFAULT 1",
            # Staff who saved their switches before keep hearing of moved bookings.
            """UPDATE notification_settings SET changed = 1 WHERE user_id IN
               (SELECT id FROM users WHERE role = 'staff')""",
            # NULL: the organisation's default reminders; a JSON list otherwise ([] = none).
            "ALTER TABLE reservation_types ADD COLUMN reminders TEXT",
            # Reminders due, one row per booking occurrence, rule and audience: written when a
            # booking changes, so a restart loses none and sends none twice.
            """CREATE TABLE reminders (
                id INTEGER PRIMARY KEY,
                booking_id INTEGER NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
                occurrence_start TEXT NOT NULL,
                before_minutes INTEGER NOT NULL,
                audience TEXT NOT NULL,
                due_at TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                done_at TEXT,
                UNIQUE (booking_id, occurrence_start, before_minutes, audience)
            )""",
            "CREATE INDEX reminders_due ON reminders (state, due_at)",
        ),
    ),
    Migration(
        11,
        "attendees' language, time zone and answer",
        (
            "ALTER TABLE booking_attendees ADD COLUMN language TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE booking_attendees ADD COLUMN timezone TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE booking_attendees ADD COLUMN partstat TEXT NOT NULL "
            "DEFAULT 'NEEDS-ACTION'",
        ),
    ),
    Migration(
        12,
        "working hours",
        (
            # A staff member's weekly hours in their zone, and dated exceptions (JSON).
            """CREATE TABLE working_hours (
                user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                timezone TEXT NOT NULL,
                weekly TEXT NOT NULL,
                exceptions TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        13,
        "busy calendars",
        (
            # A staff member's own calendars (read only), and the busy times read from them.
            """CREATE TABLE busy_calendars (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                url TEXT NOT NULL,
                etag TEXT NOT NULL DEFAULT '',
                last_modified TEXT NOT NULL DEFAULT '',
                last_synced_at TEXT,
                last_status TEXT NOT NULL DEFAULT 'new',
                last_error TEXT NOT NULL DEFAULT '',
                busy_count INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE busy_times (
                calendar_id INTEGER NOT NULL REFERENCES busy_calendars(id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL,
                start_utc TEXT NOT NULL,
                end_utc TEXT NOT NULL
            )""",
            "CREATE INDEX busy_times_user ON busy_times (user_id, start_utc)",
            "CREATE INDEX busy_times_calendar ON busy_times (calendar_id)",
        ),
    ),
    Migration(
        14,
        "busy times keep their event's UID",
        # A bridged booking's own event is in its organizer's calendar: its busy time must
        # not refuse the booking it became.
        ("ALTER TABLE busy_times ADD COLUMN uid TEXT NOT NULL DEFAULT ''",),
    ),
    Migration(
        15,
        "CalDAV busy calendars",
        (
            # 'ics' (a URL) or 'caldav' (a server: every calendar of the account is read).
            "ALTER TABLE busy_calendars ADD COLUMN kind TEXT NOT NULL DEFAULT 'ics'",
            "ALTER TABLE busy_calendars ADD COLUMN username TEXT NOT NULL DEFAULT ''",
            # The password, sealed (feedserver.tokens.credentials); never returned.
            "ALTER TABLE busy_calendars ADD COLUMN secret TEXT NOT NULL DEFAULT ''",
        ),
    ),
    Migration(
        16,
        "CalDAV bookings calendars served from the store",
        (
            # The published copies are gone (the data dir's files are removed by
            # feedserver.caldav_bridge.layout); so is the publisher's cursor.
            "DROP TABLE caldav_published",
            "DELETE FROM consumer_cursors WHERE name = 'caldav-bookings'",
            # A booking's version: the change-log version of its last change, kept by a
            # trigger so that every path that records a booking change moves it.
            "ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
            """UPDATE bookings SET version = m.version FROM (
                SELECT entity_id, MAX(version) AS version FROM changes
                WHERE entity = 'booking' GROUP BY entity_id
            ) AS m WHERE m.entity_id = bookings.id""",
            Dialects(
                """CREATE TRIGGER bookings_version AFTER INSERT ON changes
                WHEN NEW.entity = 'booking'
                BEGIN UPDATE bookings SET version = NEW.version WHERE id = NEW.entity_id; END""",
                """CREATE FUNCTION feedserver_bookings_version() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN
                    UPDATE bookings SET version = NEW.version WHERE id = NEW.entity_id;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER bookings_version AFTER INSERT ON changes FOR EACH ROW
                    WHEN (NEW.entity = 'booking')
                    EXECUTE FUNCTION feedserver_bookings_version()""",
            ),
            # The version of what every rendering reads: locations, types, feed templates.
            """CREATE TABLE catalog_version (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                version INTEGER NOT NULL
            )""",
            """INSERT INTO catalog_version (id, version) SELECT 1, COALESCE(MAX(version), 0)
                FROM changes WHERE entity IN ('location', 'type', 'feed_template')""",
            Dialects(
                """CREATE TRIGGER catalog_version AFTER INSERT ON changes
                WHEN NEW.entity IN ('location', 'type', 'feed_template')
                BEGIN UPDATE catalog_version SET version = NEW.version WHERE id = 1; END""",
                """CREATE FUNCTION feedserver_catalog_version() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN
                    UPDATE catalog_version SET version = NEW.version WHERE id = 1;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER catalog_version AFTER INSERT ON changes FOR EACH ROW
                    WHEN (NEW.entity IN ('location', 'type', 'feed_template'))
                    EXECUTE FUNCTION feedserver_catalog_version()""",
            ),
            # A user's version as far as renderings are concerned (name, email, role): set by
            # the user store when one of those changes, not by a password or working hours.
            "ALTER TABLE users ADD COLUMN render_version INTEGER NOT NULL DEFAULT 0",
            """UPDATE users SET render_version = m.version FROM (
                SELECT entity_id, MAX(version) AS version FROM changes
                WHERE entity = 'user' GROUP BY entity_id
            ) AS m WHERE m.entity_id = users.id""",
            # Who lost a booking from their bookings calendar, and at which version: what a
            # CalDAV sync reports as deleted (RFC 6578).
            """CREATE TABLE calendar_departures (
                version INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                booking_id INTEGER NOT NULL
            )""",
            "CREATE INDEX calendar_departures_user ON calendar_departures (user_id, version)",
            "CREATE INDEX bookings_version ON bookings (version)",
            # The overlap check of a new booking reads its staff member's bookings that end
            # after it starts from this index alone (no table lookups).
            """CREATE INDEX bookings_staff_spans ON bookings
                (staff_id, last_end_utc, start_utc, status, end_utc, type_id, rrule)""",
        ),
    ),
    Migration(
        17,
        "users' own CalDAV calendars in the database",
        (
            # Radicale's collections (principals and calendars): their properties (Radicale's
            # metadata, JSON), a version every change raises (the sync-token), and an id
            # that a collection made again under the same path does not share.
            """CREATE TABLE dav_collections (
                id INTEGER PRIMARY KEY,
                path TEXT NOT NULL UNIQUE,
                parent TEXT NOT NULL,
                props TEXT NOT NULL DEFAULT '{}',
                version INTEGER NOT NULL DEFAULT 0,
                modified_at TEXT NOT NULL
            )""",
            "CREATE INDEX dav_collections_parent ON dav_collections (parent)",
            # Their items, as the client wrote them, with what Radicale indexes: UID, ETag,
            # the object's name (VCALENDAR) and main component (VEVENT), and the time
            # range (Unix seconds) for a REPORT's prefilter.
            """CREATE TABLE dav_items (
                collection_id INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
                href TEXT NOT NULL,
                uid TEXT NOT NULL,
                etag TEXT NOT NULL,
                name TEXT NOT NULL,
                component TEXT NOT NULL,
                range_start INTEGER NOT NULL,
                range_end INTEGER NOT NULL,
                text TEXT NOT NULL,
                version INTEGER NOT NULL,
                modified_at TEXT NOT NULL,
                PRIMARY KEY (collection_id, href)
            )""",
            "CREATE INDEX dav_items_uid ON dav_items (collection_id, uid)",
            "CREATE INDEX dav_items_range ON dav_items (collection_id, range_start, range_end)",
            # Items deleted, at the version they left: what a sync reports as gone (RFC 6578).
            """CREATE TABLE dav_tombstones (
                collection_id INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
                href TEXT NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (collection_id, href)
            )""",
        ),
    ),
    Migration(
        18,
        "many processes and nodes on one store",
        (
            # Work one process at a time does (reminders, busy calendars, reconciliation,
            # retention): held by a node until ``until``; a dead node's lease runs out and
            # another takes the work over.
            """CREATE TABLE job_leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                until TEXT NOT NULL
            )""",
            # Counters every process shares: failed sign-ins per key, and the bridge's token
            # buckets (``n`` in thousandths of an item), ``at_ms`` the Unix time in ms.
            """CREATE TABLE shared_limits (
                key TEXT PRIMARY KEY,
                n INTEGER NOT NULL,
                at_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX shared_limits_at ON shared_limits (at_ms)",
            # What the nodes of one cluster must agree on: the fingerprint of their secrets.
            """CREATE TABLE cluster_settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
            # A message or an inbox item being worked on, by whom and until when (a lease:
            # after it, another node may take it over).
            "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
            "ALTER TABLE inbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE inbox ADD COLUMN claimed_until TEXT",
            # Every commit that logs a change wakes the other nodes (LISTEN); SQLite's
            # processes read the change log's version instead.
            Dialects(
                "",
                """CREATE FUNCTION feedserver_changed() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN
                    PERFORM pg_notify('feedserver_changes', '');
                    RETURN NULL;
                END $$;
                CREATE TRIGGER changes_notify AFTER INSERT ON changes FOR EACH STATEMENT
                    EXECUTE FUNCTION feedserver_changed()""",
            ),
        ),
    ),
    Migration(
        19,
        "webhooks, the event log and external ids",
        (
            # What happened, for booking systems: each event once, in commit order (every
            # write holds the store's write lock), its data as JSON; the change feed reads it
            # and webhook deliveries point at it. ``subject`` orders the deliveries of one
            # booking ("booking 12").
            """CREATE TABLE events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                type TEXT NOT NULL,
                subject TEXT NOT NULL,
                origin TEXT NOT NULL,
                data TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
            "CREATE INDEX events_at ON events (at)",
            # Endpoints: the event types they want (JSON list; empty: all), their signing
            # secret sealed with the instance key, and the one before it during a rotation.
            """CREATE TABLE webhooks (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                event_types TEXT NOT NULL,
                secret TEXT NOT NULL,
                previous_secret TEXT,
                previous_until TEXT,
                enabled INTEGER NOT NULL DEFAULT 1,
                disabled_reason TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            # One event for one endpoint: written in the event's transaction, claimed by a
            # process for its lease while it is sent, delivered in order per subject.
            """CREATE TABLE webhook_deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
                event_id INTEGER NOT NULL,
                subject TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                last_status INTEGER,
                last_error TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                delivered_at TEXT,
                claimed_by TEXT,
                claimed_until TEXT
            )""",
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
            """CREATE INDEX webhook_deliveries_order ON webhook_deliveries
                (webhook_id, subject, status, id)""",
            "CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)",
            # Every attempt: when, the HTTP status (none: no answer), why it failed, how long
            # it took, and the start of what the endpoint answered.
            """CREATE TABLE webhook_attempts (
                id INTEGER PRIMARY KEY,
                delivery_id INTEGER NOT NULL
                    REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                at TEXT NOT NULL,
                status INTEGER,
                error TEXT NOT NULL DEFAULT '',
                duration_ms INTEGER NOT NULL,
                response TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id)",
            # The first answer to a POST with an Idempotency-Key, per caller, for 24 hours;
            # ``status`` 0 while the first request is still being answered.
            """CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status INTEGER NOT NULL,
                content_type TEXT NOT NULL DEFAULT '',
                body BLOB,
                created_at TEXT NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
            "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)",
            # The caller's own id of a booking, person, location or type: unique per kind.
            "ALTER TABLE bookings ADD COLUMN external_id TEXT",
            "ALTER TABLE users ADD COLUMN external_id TEXT",
            "ALTER TABLE locations ADD COLUMN external_id TEXT",
            "ALTER TABLE reservation_types ADD COLUMN external_id TEXT",
            """CREATE UNIQUE INDEX bookings_external_id ON bookings (external_id)
                WHERE external_id IS NOT NULL""",
            """CREATE UNIQUE INDEX users_external_id ON users (external_id)
                WHERE external_id IS NOT NULL""",
            """CREATE UNIQUE INDEX locations_external_id ON locations (external_id)
                WHERE external_id IS NOT NULL""",
            """CREATE UNIQUE INDEX reservation_types_external_id
                ON reservation_types (external_id) WHERE external_id IS NOT NULL""",
        ),
    ),
    Migration(
        20,
        "calendar accounts written through, and WebDAV-Push",
        (
            # A person's own calendar account: where it is, the calendar written to, the
            # bookings it shows (a feed link's filters, JSON), its sealed credentials and how
            # writing into it goes.
            """CREATE TABLE calendar_accounts (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                provider TEXT NOT NULL,
                name TEXT NOT NULL,
                server_url TEXT NOT NULL,
                username TEXT NOT NULL DEFAULT '',
                secret TEXT NOT NULL,
                calendar_url TEXT NOT NULL,
                calendar_name TEXT NOT NULL DEFAULT '',
                filters TEXT NOT NULL,
                busy INTEGER NOT NULL DEFAULT 1,
                uid_key TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'ok',
                last_error TEXT NOT NULL DEFAULT '',
                failures INTEGER NOT NULL DEFAULT 0,
                failing_since TEXT,
                retry_at TEXT,
                last_written_at TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX calendar_accounts_user ON calendar_accounts (user_id)",
            # The events written there, one a booking: only these are ever changed.
            """CREATE TABLE calendar_account_items (
                account_id INTEGER NOT NULL REFERENCES calendar_accounts(id) ON DELETE CASCADE,
                booking_id INTEGER NOT NULL,
                href TEXT NOT NULL,
                etag TEXT NOT NULL DEFAULT '',
                digest TEXT NOT NULL DEFAULT '',
                written_at TEXT NOT NULL,
                PRIMARY KEY (account_id, booking_id)
            )""",
            # The queue: a booking to bring up to date in an account (0: the whole calendar),
            # written in the transaction of the booking's change; one row per pair.
            """CREATE TABLE calendar_account_jobs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                account_id INTEGER NOT NULL REFERENCES calendar_accounts(id) ON DELETE CASCADE,
                booking_id INTEGER NOT NULL,
                generation INTEGER NOT NULL DEFAULT 1,
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at TEXT NOT NULL,
                queued_at TEXT NOT NULL,
                claimed_by TEXT,
                claimed_until TEXT,
                UNIQUE (account_id, booking_id)
            )""",
            "CREATE INDEX calendar_account_jobs_due ON calendar_account_jobs (due_at)",
            # What happened there that the person should know: edits replaced, errors.
            """CREATE TABLE calendar_account_log (
                id INTEGER PRIMARY KEY,
                account_id INTEGER NOT NULL REFERENCES calendar_accounts(id) ON DELETE CASCADE,
                at TEXT NOT NULL,
                booking_id INTEGER,
                kind TEXT NOT NULL,
                detail TEXT NOT NULL
            )""",
            "CREATE INDEX calendar_account_log_account ON calendar_account_log (account_id, id)",
            # A Google authorization under way: its state, PKCE verifier and what was asked.
            """CREATE TABLE oauth_states (
                state TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                verifier TEXT NOT NULL,
                request TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            # A busy calendar read from a connected account (its calendars, less what
            # feedserver wrote there).
            "ALTER TABLE busy_calendars ADD COLUMN account_id INTEGER",
            # WebDAV-Push subscriptions: the collection, the Web Push resource and its keys,
            # and the sync-token last pushed (a change is pushed while it differs).
            """CREATE TABLE push_subscriptions (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                registration TEXT NOT NULL UNIQUE,
                push_resource TEXT NOT NULL,
                public_key TEXT NOT NULL,
                auth_secret TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                pushed_token TEXT NOT NULL DEFAULT '',
                failures INTEGER NOT NULL DEFAULT 0,
                last_error TEXT NOT NULL DEFAULT '',
                created_at TEXT NOT NULL,
                UNIQUE (path, push_resource)
            )""",
        ),
    ),
    Migration(
        21,
        "people deactivated and reactivated",
        (
            # Set: the person cannot sign in, their sessions are gone, their feed links and
            # app passwords answer no more; their bookings stay. NULL: active.
            "ALTER TABLE users ADD COLUMN deactivated_at TEXT",
        ),
    ),
)
