// @llmsec/ratelimit/http: building blocks under the middleware (the bounded JSON body reader,
// subject extraction, RateLimit header formatting), for servers that wire their own guard.
// The middleware itself is exported from the package root.
export { readJsonBody, RequestBodyError } from './body.ts';
export { rateLimitHeaders, retryAfterSeconds, retryCannotHelp } from './headers.ts';
export {
  anonymousSubject,
  defaultSubject,
  defaultSecondarySubject,
  clientAddress,
  ipSubject,
  userSubject,
} from './subject.ts';
export type { SubjectOptions } from './subject.ts';
export { ipBucket } from './ip.ts';
