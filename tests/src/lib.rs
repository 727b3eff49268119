//! End-to-end tests live under `api/`; this library is empty on purpose.
