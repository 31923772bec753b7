"""Changes to hosted indexes: uploads, the publishing step they share with imports, and release management."""
