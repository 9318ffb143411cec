-- Signed-in sessions: only a SHA-256 hash of each random token is kept.
CREATE TABLE user_session (
    token_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user_info (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_session_user ON user_session (user_id);
