-- Alex initial schema: users, instruments, accounts, positions, jobs (as in the original guide),
-- with CHECK constraints where a rule is absolute. Forward-only: never edit once applied.
-- UUIDs come from core gen_random_uuid() (PostgreSQL 13+), so no extension is needed.

CREATE TABLE users (
    clerk_user_id            VARCHAR(255) PRIMARY KEY,
    display_name             VARCHAR(255),
    years_until_retirement   INTEGER,
    target_retirement_income DECIMAL(12, 2),
    asset_class_targets      JSONB DEFAULT '{"equity": 70, "fixed_income": 30}',
    region_targets           JSONB DEFAULT '{"north_america": 50, "international": 50}',
    created_at               TIMESTAMP DEFAULT NOW(),
    updated_at               TIMESTAMP DEFAULT NOW()
);

CREATE TABLE instruments (
    symbol                 VARCHAR(20) PRIMARY KEY,
    name                   VARCHAR(255) NOT NULL,
    instrument_type        VARCHAR(50),
    current_price          DECIMAL(12, 4),
    allocation_regions     JSONB DEFAULT '{}',
    allocation_sectors     JSONB DEFAULT '{}',
    allocation_asset_class JSONB DEFAULT '{}',
    created_at             TIMESTAMP DEFAULT NOW(),
    updated_at             TIMESTAMP DEFAULT NOW()
);

CREATE TABLE accounts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    clerk_user_id   VARCHAR(255) REFERENCES users (clerk_user_id) ON DELETE CASCADE,
    account_name    VARCHAR(255) NOT NULL,
    account_purpose TEXT,
    cash_balance    DECIMAL(12, 2) DEFAULT 0,
    cash_interest   DECIMAL(5, 4) DEFAULT 0
        CONSTRAINT accounts_cash_interest_is_a_rate CHECK (cash_interest BETWEEN 0 AND 1),
    created_at      TIMESTAMP DEFAULT NOW(),
    updated_at      TIMESTAMP DEFAULT NOW()
);

CREATE TABLE positions (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id UUID REFERENCES accounts (id) ON DELETE CASCADE,
    symbol     VARCHAR(20) REFERENCES instruments (symbol),
    quantity   DECIMAL(20, 8) NOT NULL
        CONSTRAINT positions_quantity_positive CHECK (quantity > 0),
    as_of_date DATE DEFAULT CURRENT_DATE,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    UNIQUE (account_id, symbol)
);

CREATE TABLE jobs (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    clerk_user_id      VARCHAR(255) REFERENCES users (clerk_user_id) ON DELETE CASCADE,
    job_type           VARCHAR(50) NOT NULL
        CONSTRAINT jobs_job_type_known CHECK (job_type IN (
            'portfolio_analysis', 'rebalance_recommendation', 'retirement_projection',
            'risk_assessment', 'tax_optimization')),
    status             VARCHAR(20) DEFAULT 'pending'
        CONSTRAINT jobs_status_known CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    request_payload    JSONB,
    report_payload     JSONB,
    charts_payload     JSONB,
    retirement_payload JSONB,
    summary_payload    JSONB,
    error_message      TEXT,
    created_at         TIMESTAMP DEFAULT NOW(),
    started_at         TIMESTAMP,
    completed_at       TIMESTAMP,
    updated_at         TIMESTAMP DEFAULT NOW()
);

CREATE INDEX idx_accounts_user ON accounts (clerk_user_id);
CREATE INDEX idx_positions_account ON positions (account_id);
CREATE INDEX idx_positions_symbol ON positions (symbol);
CREATE INDEX idx_jobs_user ON jobs (clerk_user_id);
CREATE INDEX idx_jobs_status ON jobs (status);

-- Keeps updated_at honest for every writer, not only for code that remembers to set it.
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_instruments_updated_at BEFORE UPDATE ON instruments
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_accounts_updated_at BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_positions_updated_at BEFORE UPDATE ON positions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_jobs_updated_at BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
