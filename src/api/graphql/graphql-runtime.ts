import type * as GraphQLModule from 'graphql';

/**
 * graphql's classes from its CommonJS entry, the copy @nestjs/graphql and Apollo Server load.
 * graphql ships a second, ES-module copy (index.mjs) that bundlers such as Vite pick; a
 * GraphQLError or scalar made from that copy fails their `instanceof` checks. Requiring the
 * package pins our code to the same copy in the built service and under the test runner.
 */
const graphql = require('graphql') as typeof GraphQLModule;

export const { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped } = graphql;
export type GraphQLError = GraphQLModule.GraphQLError;
