/**
 * What an adapter tells the meter about one finished request. Error kinds are exclusive: a request
 * counts under at most one, chosen in this order: aborted, validation, exception, server_error (other
 * 5xx), client_error (other 4xx). Status codes are counted apart from error kinds.
 */
export const ErrorKind = {
  None: 0,
  /** The handler or a hook threw; the exception's class is kept too. */
  Exception: 1,
  /** The framework rejected the request against its schema (usually a 400). */
  Validation: 2,
  /** The client went away before the response was complete (recorded with status 499). */
  Aborted: 3,
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Status used for requests the client aborted (nginx's convention). */
export const ABORTED_STATUS = 499;

/** Names of the exclusive error types, as they appear in APIs and exports. */
export const ERROR_TYPES = ['server_error', 'client_error', 'exception', 'validation', 'aborted'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

/** Endpoint template shared by every request that matched no route (never the raw path). */
export const UNMATCHED_ROUTE = '__unmatched__';
/** Endpoint template receiving records once the cardinality cap is reached. */
export const OVERFLOW_ROUTE = '__overflow__';

export interface RequestRecord {
  method: string;
  /** Route template (`/dags/{dag_id}`); undefined when no route matched. */
  route: string | undefined;
  status: number;
  durationMs: number;
  /** Body sizes in bytes; -1 or undefined when unknown. */
  requestBytes?: number;
  responseBytes?: number;
  errorKind?: ErrorKind;
  /** Exception class name (`TypeError`) when errorKind is Exception. */
  errorClass?: string;
  errorMessage?: string;
}
