-- The code ledger (tx_meta.schema_code) is created by `tianxingd migrate` itself, before any file
-- here runs; /readyz reads it as the runtime role to tell whether this build's functions,
-- policies and triggers are the ones in force.
GRANT SELECT ON tx_meta.schema_code TO tianxing_app;
