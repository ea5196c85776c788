import { workerDomainPrefix } from './test-domain';

// Set before any test of an integration file runs: every service and CLI this worker starts
// inherits it, and so treats as instances only the domains this worker's file created.
process.env['SNAPLEDGER_DOMAINS'] = `${workerDomainPrefix()}*`;
