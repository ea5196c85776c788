import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { LOGGER, type SnapledgerLogger } from '../../logger';
import type { SnapledgerRequest } from '../request-context.middleware';
import { GraphqlContextFactory } from './graphql-context';
import { graphqlErrorFormatter } from './graphql-error.formatter';
import { queryLimitsPlugin } from './query-limits.plugin';
import { AuditLogResolver } from './resolvers/audit-log.resolver';
import { CreateImageResolver } from './resolvers/create-image.resolver';
import { ImageResolver } from './resolvers/image.resolver';
import { InstanceResolver } from './resolvers/instance.resolver';
import { SnapshotHistoryResolver } from './resolvers/snapshot-history.resolver';

/** Where the GraphQL API is served. */
export const GRAPHQL_PATH = '/graphql';

/**
 * The resolvers and the request-context factory. They are providers of the AppModule (HTTP
 * apps only), next to the views, the command bus and the token service they use; the
 * GraphQL module finds resolvers in every module.
 */
export const GRAPHQL_PROVIDERS: Provider[] = [
  GraphqlContextFactory,
  InstanceResolver,
  ImageResolver,
  SnapshotHistoryResolver,
  AuditLogResolver,
  CreateImageResolver,
];

/** The most lexical tokens a GraphQL document may hold. */
export const MAX_QUERY_TOKENS = 2_000;

/**
 * The GraphQL API at /graphql: code-first (the schema is built in memory from the decorated
 * types, sorted), served by Apollo Server on the service's Express app. Every request is
 * authenticated in its context (401 without a token; introspection too), resolvers are
 * guarded and scoped like REST, nested lists are batched per request by DataLoaders, and
 * queries that nest too deeply or cost too much are refused before they run. No landing
 * page or GraphiQL is served.
 */
@Module({})
export class GraphqlApiModule {
  static forRoot(): DynamicModule {
    return {
      module: GraphqlApiModule,
      imports: [
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          inject: [ModuleRef],
          useFactory: (modules: ModuleRef): ApolloDriverConfig => {
            // The AppModule's providers, looked up when the first request comes (they are
            // ready by then; this module cannot import the module that imports it).
            const contexts = () => modules.get(GraphqlContextFactory, { strict: false });
            const logger = () =>
              modules.get<symbol, SnapledgerLogger>(LOGGER, { strict: false }).child({
                component: 'graphql',
              });
            return {
              path: GRAPHQL_PATH,
              autoSchemaFile: true,
              sortSchema: true,
              graphiql: false,
              introspection: true,
              includeStacktraceInErrorResponses: false,
              // A document of a few thousand nested lists would overflow the parser's stack
              // ("Maximum call stack size exceeded"); longer ones are refused as a syntax
              // error first. The review page's queries, and the introspection query (163
              // tokens), are far shorter.
              parseOptions: { maxTokens: MAX_QUERY_TOKENS },
              context: (args: { req: SnapledgerRequest }) => contexts().create(args),
              plugins: [queryLimitsPlugin()],
              formatError: graphqlErrorFormatter({ error: (obj, msg) => logger().error(obj, msg) }),
            };
          },
        }),
      ],
    };
  }
}
