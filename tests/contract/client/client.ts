/**
 * @file
 * @brief A typed TypeScript client of the contract, as a front-end team would write it.
 *
 * tests/contract/client-types generates `api.d.ts` next to a copy of this file with
 * openapi-typescript, run in the project root on openapi.yaml (so with the project's
 * redocly.yaml, as `npx openapi-typescript openapi.yaml` finds it), and type-checks both with
 * tsc --strict. Each function below depends on a part of the generated types: the paths and
 * their methods, request bodies, parameters, success bodies and the problem document of errors.
 * The `@ts-expect-error` lines prove the types are real: were they `any` or missing, tsc would
 * report those directives as unused and the test would fail.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './api';

type Problem = components['schemas']['Problem'];
type TokenPair = components['schemas']['TokenPair'];
type CustomerSummary = components['schemas']['CustomerSummary'];

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1:8080' });

/** An error answered by the service, with its stable code. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.code}: ${problem.detail}`);
  }
}

export async function signIn(username: string, password: string): Promise<TokenPair> {
  const { data, error } = await client.POST('/v1/auth/login', { body: { username, password } });
  if (error) throw new ApiError(error);
  return data;
}

export async function customerNames(token: string, tag: string): Promise<string[]> {
  const { data, error } = await client.GET('/v1/customers', {
    params: { query: { tag, limit: 50 } },
    headers: { Authorization: `Bearer ${token}` },
  });
  if (error) throw new ApiError(error);
  // The list also comes as text/csv (Accept): its body is typed as either media type's.
  if (typeof data === 'string') throw new Error('CSV answered to a JSON request');
  const items: CustomerSummary[] = data.items;
  const next: string | null = data.next_cursor;
  return items.map((c) => c.name).concat(next === null ? [] : ['…']);
}

export async function regulationIds(): Promise<string[]> {
  const { data, error } = await client.GET('/v1/regulations/{id}', {
    params: { path: { id: '0b9c6a52-3d4e-4f1a-8b2c-5e6f7a8b9c0d' } },
  });
  if (error) throw new ApiError(error);
  return [data.id];
}

export async function mistakes(): Promise<void> {
  // @ts-expect-error: a path the contract does not have.
  await client.GET('/v1/no-such-route');
  // @ts-expect-error: sign-in takes a username and a password, not an e-mail address.
  await client.POST('/v1/auth/login', { body: { email: 'a@example.com', password: 'x' } });
  const { error } = await client.GET('/v1/me');
  // @ts-expect-error: a problem has no `message` member (its text is `detail`).
  if (error) console.log(error.message);
}
