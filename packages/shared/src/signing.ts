import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

/**
 * Ed25519 publisher keys (node:crypto). A public key travels as `ed25519:<base64 of the 32 raw
 * bytes>`; its key id is the first 16 bytes of the sha256 of those raw bytes, as 32 lowercase hex
 * digits. A private key is stored as PKCS#8 PEM.
 */
export const KEY_ID_PATTERN = /^[0-9a-f]{32}$/;
const PUBLIC_KEY_PREFIX = 'ed25519:';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class SignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureError';
  }
}

export interface PublisherKeyPair {
  keyId: string;
  /** `ed25519:<base64>` */
  publicKey: string;
  /** PKCS#8 PEM */
  privateKeyPem: string;
}

export function generatePublisherKey(): PublisherKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(publicKey);
  return {
    keyId: keyIdOf(raw),
    publicKey: formatPublicKey(raw),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function keyIdOf(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 32);
}

export function formatPublicKey(raw: Uint8Array): string {
  return `${PUBLIC_KEY_PREFIX}${Buffer.from(raw).toString('base64')}`;
}

/** The 32 raw bytes of an `ed25519:<base64>` public key; throws SignatureError when malformed. */
export function parsePublicKey(text: string): Uint8Array {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PUBLIC_KEY_PREFIX)) {
    throw new SignatureError(`a public key looks like 'ed25519:<base64>', got '${trimmed.slice(0, 40)}'`);
  }
  const b64 = trimmed.slice(PUBLIC_KEY_PREFIX.length);
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== b64) {
    throw new SignatureError('an Ed25519 public key is 32 bytes in standard base64');
  }
  return new Uint8Array(raw);
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Loads a PKCS#8 PEM private key; returns it with its public half and key id. */
export function loadPrivateKey(pem: string): { privateKey: KeyObject; rawPublicKey: Uint8Array; keyId: string } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new SignatureError(`not a PEM private key: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SignatureError(`the key is ${privateKey.asymmetricKeyType}, not ed25519`);
  }
  const raw = rawPublicKey(createPublicKey(privateKey));
  return { privateKey, rawPublicKey: raw, keyId: keyIdOf(raw) };
}

export function signBytes(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

export function verifyBytes(rawPublic: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  return verify(null, message, publicKeyObject(rawPublic), signature);
}

/**
 * The text a publisher signs to prove an upload is theirs: the package's sha256 and size as
 * declared before sending it, and the time (unix milliseconds) the proof was made.
 */
export function publishChallenge(packageSha256: string, size: number, signedAtMs: number): Uint8Array {
  return new TextEncoder().encode(`awasm publish v1\n${packageSha256}\n${size}\n${signedAtMs}\n`);
}
