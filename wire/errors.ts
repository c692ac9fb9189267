/**
 * Errors of the wire layer. Everything the decoder throws on bad input is a
 * {@linkcode WireError}; a value or field that cannot be encoded is refused
 * with an {@linkcode UnencodableValueError} before any byte of it is written.
 *
 * @module
 */

import { tagName } from "./tags.ts";

/** Where a {@linkcode WireError} happened. */
export interface WireErrorOptions {
  /** Tag of the frame being decoded, when it was read already. */
  tag?: number | undefined;
  /** Byte offset of the problem; see {@linkcode WireError.offset}. */
  offset: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error thrown while decoding frames: the input is not a
 * valid frame stream, and the connection it came from should be closed.
 */
export class WireError extends Error {
  /** Always `"WireError"`. */
  override readonly name: string = "WireError";
  /** Tag of the offending frame, or `undefined` if it was not read yet. */
  readonly tag: number | undefined;
  /**
   * Offset of the offending byte: from the start of the stream for
   * {@linkcode FrameDecoder}, from the start of the array for `decodeFrame`.
   */
  readonly offset: number;

  /** Builds the error; `message` should say what is wrong. */
  constructor(message: string, options: WireErrorOptions) {
    const where = options.tag === undefined
      ? `at byte ${options.offset}`
      : `in ${tagName(options.tag)} frame at byte ${options.offset}`;
    super(
      `${message} (${where})`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.tag = options.tag;
    this.offset = options.offset;
  }
}

/** A frame declared a length above the decoder's `maxFrameBytes`. */
export class FrameTooLargeError extends WireError {
  /** Always `"FrameTooLargeError"`. */
  override readonly name: string = "FrameTooLargeError";
  /** The declared length (bytes after the length prefix). */
  readonly length: number;
  /** The limit it exceeded. */
  readonly maxFrameBytes: number;

  /** Builds the error for a declared `length` above `maxFrameBytes`. */
  constructor(length: number, maxFrameBytes: number, offset: number) {
    super(
      `Frame of ${length} bytes refused: the limit is ${maxFrameBytes}`,
      { offset },
    );
    this.length = length;
    this.maxFrameBytes = maxFrameBytes;
  }
}

/** A frame declared a length of zero, so it has no tag. */
export class EmptyFrameError extends WireError {
  /** Always `"EmptyFrameError"`. */
  override readonly name: string = "EmptyFrameError";

  /** Builds the error for the frame at `offset`. */
  constructor(offset: number) {
    super("Frame of length 0 refused: every frame has a tag", { offset });
  }
}

/** A frame's tag byte is not one of {@linkcode Tag}. */
export class UnknownTagError extends WireError {
  /** Always `"UnknownTagError"`. */
  override readonly name: string = "UnknownTagError";

  /** Builds the error for the unknown `tag` at `offset`. */
  constructor(tag: number, offset: number) {
    super(`Unknown tag ${tagName(tag)}`, { tag, offset });
  }
}

/** A frame body ended before all of its fields were read. */
export class TruncatedFrameError extends WireError {
  /** Always `"TruncatedFrameError"`. */
  override readonly name: string = "TruncatedFrameError";
}

/** A frame body has bytes left over after its last field. */
export class TrailingBytesError extends WireError {
  /** Always `"TrailingBytesError"`. */
  override readonly name: string = "TrailingBytesError";
}

/** A field holds a value of the wrong type or out of range. */
export class InvalidFieldError extends WireError {
  /** Always `"InvalidFieldError"`. */
  override readonly name: string = "InvalidFieldError";
}

/** A payload (`message` or `reason`) could not be decoded by the codec. */
export class FrameDecodeError extends WireError {
  /** Always `"FrameDecodeError"`. */
  override readonly name: string = "FrameDecodeError";
}

/** Options of {@linkcode UnencodableValueError}. */
export interface UnencodableValueErrorOptions {
  /** Where the value is, e.g. `message.handler`; `""` for the root. */
  path: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A value or frame field that cannot be encoded: a function, a symbol, a
 * cyclic or too deep structure, a name longer than 255 bytes, an id out of
 * range… It is thrown before anything of the value is written.
 *
 * @example
 * ```ts
 * import { UnencodableValueError } from "./errors.ts";
 * const e = new UnencodableValueError("a function cannot be sent", { path: "message.handler" });
 * if (e.message !== "Cannot encode message.handler: a function cannot be sent") throw new Error();
 * ```
 */
export class UnencodableValueError extends Error {
  /** Always `"UnencodableValueError"`. */
  override readonly name: string = "UnencodableValueError";
  /** Path of the value, e.g. `message.handler` or `to.node`; `""` for a whole value. */
  readonly path: string;
  /** What is wrong with it, without the path. */
  readonly reason: string;

  /** Builds the error: `reason` says what is wrong, `options.path` where. */
  constructor(reason: string, options: UnencodableValueErrorOptions) {
    super(
      `Cannot encode ${
        options.path === "" ? "value" : options.path
      }: ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.path = options.path;
    this.reason = reason;
  }

  /** The same error for a value found under `prefix` (e.g. `message`). */
  within(prefix: string): UnencodableValueError {
    const path = this.path === ""
      ? prefix
      : this.path.startsWith("[") || this.path.startsWith(".")
      ? prefix + this.path
      : `${prefix}.${this.path}`;
    return new UnencodableValueError(
      this.reason,
      this.cause === undefined ? { path } : { path, cause: this.cause },
    );
  }
}
