-- Demo users for scripts/dev.sh. Never applied to test databases.
INSERT INTO users (id, email, display_name, role) VALUES
    ('018f0000-0000-7000-8000-000000000001', 'alice@applicants.example', 'Alice Applicant', 'applicant'),
    ('018f0000-0000-7000-8000-000000000002', 'bob@applicants.example',   'Bob Applicant',   'applicant'),
    ('018f0000-0000-7000-8000-000000000003', 'lena@lawyers.example',     'Lena Lawyer',     'lawyer'),
    ('018f0000-0000-7000-8000-000000000004', 'marc@lawyers.example',     'Marc Lawyer',     'lawyer')
ON CONFLICT (id) DO NOTHING;
