//! Simulated services (in progress).
