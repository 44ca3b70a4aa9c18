/**
 * The OpenAPI 3.1 document (DESIGN.md: served at `/api/openapi.json`, generated from the
 * schemas that validate requests). OpenAPI 3.1 schemas are JSON Schema 2020-12 (OAS 3.1
 * §4.8.24), which is what zod 4's `z.toJSONSchema` writes, so no converter is needed.
 */
import { z } from 'zod';
import type { RouteSpec } from './table.js';

type Json = Record<string, unknown>;

const ERROR = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

function schemaOf(s: z.ZodType): Json {
  // The request side: defaults make fields optional for the client (io 'input').
  const j = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  delete j.$schema;
  return j;
}

function parameters(where: 'path' | 'query', o: z.ZodObject | undefined): Json[] {
  if (!o) return [];
  const j = schemaOf(o) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(j.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || (j.required ?? []).includes(name),
    schema,
  }));
}

export function openApiDocument(routes: readonly RouteSpec[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const p = `/api${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    const op: Json = {
      operationId: `${r.method}${r.path.replace(/\/:?([A-Za-z0-9-]+)/g, (_m, w: string) => w.charAt(0).toUpperCase() + w.slice(1).replace(/-(.)/g, (_x, ch: string) => ch.toUpperCase()))}`,
      summary: r.summary,
      'x-danekeeper-action': r.action,
      parameters: [...parameters('path', r.params), ...parameters('query', r.query)],
      responses: {
        [String(r.status)]: {
          description: 'Done',
          content: {
            'application/json': { schema: r.response ? schemaOf(r.response) : { type: 'object' } },
          },
        },
        default: {
          description: 'An error (4xx; a 5xx is a bug)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
    if (r.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(r.body) } },
      };
    }
    (paths[p] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'danekeeper API',
      version: '1',
      description:
        'Managed domains, DANE, TLSA records, checks and settings. Authenticate with Authorization: Bearer dk_... (danekeeper token create NAME).',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      schemas: { Error: ERROR },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
