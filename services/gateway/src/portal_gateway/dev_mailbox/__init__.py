"""Local-dev mailbox (`DEV_MAILBOX_ENABLED`, refused in production): the emails moto received."""
