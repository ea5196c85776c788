/**
 * Nest injection tokens shared across layers, kept apart from the classes that use them so
 * that the API, the CLI and the service lifecycle can all name them without importing each
 * other. (Ports keep their own tokens next to them, e.g. EVENT_STORE in event-store.port.ts.)
 */

/** The views' DataSource (<dataDir>/views.sqlite). */
export const VIEWS_DB = Symbol('ViewsDataSource');
/** The service's own state DataSource (<dataDir>/state.sqlite). */
export const STATE_DB = Symbol('ServiceStateDataSource');
/**
 * The process's ServiceRole (all-in-one, api, agent), which decides its background work; null
 * for CLI commands that run none.
 */
export const SERVICE_ROLE = Symbol('ServiceRole');
/** The ProjectionRunner; routes wait on it through the ReadYourWrites interface. */
export const PROJECTION_RUNNER = Symbol('ProjectionRunner');

/** Incremental backups' drivers (BackupChainDrivers), or null with the Glance image store. */
export const BACKUP_CHAIN_DRIVERS = Symbol('BackupChainDrivers');

/** Checks stored images (ImageVerifier), or null with the Glance image store. */
export const IMAGE_VERIFIER = Symbol('ImageVerifier');
