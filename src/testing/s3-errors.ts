/**
 * S3 error responses as values: an {@link S3Error} is thrown inside an operation and rendered as
 * `<Error><Code>..</Code><Message>..</Message>..</Error>` with its HTTP status.
 */
export class S3Error extends Error {
  constructor(
    /** HTTP status code, e.g. 404. */
    readonly status: number,
    /** S3 error code, e.g. `NoSuchKey`. */
    readonly code: string,
    message: string,
    /** Extra elements of the `<Error>` document, e.g. `{ Key: 'a' }`. */
    readonly details: Readonly<Record<string, string>> = {},
    /** Extra response headers, e.g. `x-amz-delete-marker`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Default messages, as AWS words them, for codes a fault may name without a message. */
const DEFAULT_MESSAGES: Readonly<Record<string, string>> = {
  InternalError: 'We encountered an internal error. Please try again.',
  SlowDown: 'Please reduce your request rate.',
  ServiceUnavailable: 'Service is unable to handle request.',
  ConditionalRequestConflict:
    'A conflicting conditional operation is currently in progress against this resource. Please try again.',
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
  RequestTimeout:
    'Your socket connection to the server was not read from or written to within the timeout period.',
};

/** The AWS wording for `code`, or a generic one. */
export function defaultErrorMessage(code: string): string {
  return DEFAULT_MESSAGES[code] ?? `Injected ${code}`;
}

export function noSuchBucket(bucket: string): S3Error {
  return new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
}

export function noSuchKey(key: string, headers: Record<string, string> = {}): S3Error {
  return new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, headers);
}

export function noSuchVersion(key: string, versionId: string): S3Error {
  return new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.', {
    Key: key,
    VersionId: versionId,
  });
}

/** 412; `condition` names the failed header as AWS does (`If-None-Match`, `If-Match`, ...). */
export function preconditionFailed(condition: string): S3Error {
  return new S3Error(412, 'PreconditionFailed', defaultErrorMessage('PreconditionFailed'), {
    Condition: condition,
  });
}

export function methodNotAllowed(method: string, headers: Record<string, string> = {}): S3Error {
  return new S3Error(
    405,
    'MethodNotAllowed',
    'The specified method is not allowed against this resource.',
    { Method: method, ResourceType: 'DeleteMarker' },
    headers,
  );
}

export function notImplemented(what: string): S3Error {
  return new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
    Header: what,
  });
}

export function invalidArgument(message: string, name: string, value: string): S3Error {
  return new S3Error(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value });
}

export function malformedXml(): S3Error {
  return new S3Error(
    400,
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );
}
