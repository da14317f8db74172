// @ts-check
/** wasi:filesystem: no preopens, and every descriptor operation fails with `access`. */

import { INTERNAL, trap } from './internal.mjs';

function denied() {
  throw 'access';
}

class Descriptor {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:filesystem/types.descriptor has no constructor');
  }
}

class DirectoryEntryStream {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:filesystem/types.directory-entry-stream has no constructor');
  }
}

// On the prototypes, since the glue may make a resource object with Object.create(prototype).
for (const name of [
  'readViaStream',
  'writeViaStream',
  'appendViaStream',
  'advise',
  'syncData',
  'getFlags',
  'getType',
  'setSize',
  'setTimes',
  'read',
  'write',
  'readDirectory',
  'sync',
  'createDirectoryAt',
  'stat',
  'statAt',
  'setTimesAt',
  'linkAt',
  'openAt',
  'readlinkAt',
  'removeDirectoryAt',
  'renameAt',
  'symlinkAt',
  'unlinkFileAt',
  'metadataHash',
  'metadataHashAt',
]) {
  Object.defineProperty(Descriptor.prototype, name, { value: denied });
}
Object.defineProperty(Descriptor.prototype, 'isSameObject', { value: () => false });
Object.defineProperty(DirectoryEntryStream.prototype, 'readDirectoryEntry', { value: denied });

export function filesystemImports() {
  return {
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
  };
}
