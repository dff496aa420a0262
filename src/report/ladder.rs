//! Ladder diagrams (placeholder).
