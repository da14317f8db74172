import { randomUUID } from 'node:crypto';
import { BackupFormat, BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { LibraryStore } from '../library/library-store.js';
import type { RequireUser } from '../updates/update-service.js';
import { BackupTooLargeError, exportBackup } from './backup-export.js';
import { BACKUP_LIMITS, BackupFormatError } from './backup-format.js';
import { type ImportOptions, type ImportReport, importBackup } from './backup-import.js';
import { parseBackupJson } from './backup-validate.js';
import { importTachibk, mihonReplacements, type ReplacingSource } from './tachibk-import.js';

/** Room for the request's framing and its other fields around a backup of the cap's size. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

export interface BackupServiceDeps {
  library: LibraryStore;
  /** the installed sources, with the Mihon sources their manifests say they replace */
  installedSources: () => Promise<ReplacingSource[]>;
  /** requireUser of @awasm/server's auth.ts; injected because the catalog does not depend on the server */
  requireUser: RequireUser;
  /** unix ms; Date.now by default */
  now?: () => number;
  /** ids of new entries, categories and works; random UUIDs by default */
  newId?: () => string;
}

/** The format a file is read as: the one asked for, or gzip's magic bytes telling a .tachibk. */
function formatOf(requested: BackupFormat, data: Uint8Array): BackupFormat.AWASM_JSON | BackupFormat.TACHIBK {
  if (requested === BackupFormat.AWASM_JSON || requested === BackupFormat.TACHIBK) return requested;
  if (requested !== BackupFormat.UNSPECIFIED) {
    throw new ConnectError(`format: unknown value ${requested}`, Code.InvalidArgument);
  }
  return data[0] === 0x1f && data[1] === 0x8b ? BackupFormat.TACHIBK : BackupFormat.AWASM_JSON;
}

/** Serves awasm.v1.BackupService: each user exports and imports only their own library. */
export function registerBackupService(router: ConnectRouter, deps: BackupServiceDeps): void {
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? randomUUID;

  router.service(
    BackupService,
    {
      async exportBackup(_request, context) {
        const { userId } = deps.requireUser(context);
        const at = now();
        let text: string;
        let entries: number;
        try {
          const doc = await exportBackup(deps.library, userId, at);
          text = `${JSON.stringify(doc)}\n`;
          entries = doc.entries.length;
        } catch (error) {
          if (error instanceof BackupTooLargeError) throw new ConnectError(error.message, Code.ResourceExhausted);
          throw error;
        }
        const data = new TextEncoder().encode(text);
        if (data.length > BACKUP_LIMITS.maxBytes) {
          // a file this server would refuse to import is not handed out
          throw new ConnectError(
            `the library's backup is ${data.length} bytes, more than the ${BACKUP_LIMITS.maxBytes} an import accepts`,
            Code.ResourceExhausted,
          );
        }
        const day = new Date(at).toISOString().slice(0, 10);
        return { data, fileName: `awasm-backup-${day}.json`, entries };
      },

      async importBackup(request, context) {
        const { userId } = deps.requireUser(context);
        if (request.data.length === 0) throw new ConnectError('data: must not be empty', Code.InvalidArgument);
        if (request.data.length > BACKUP_LIMITS.maxBytes) {
          throw new ConnectError(
            `data: ${request.data.length} bytes exceeds the cap of ${BACKUP_LIMITS.maxBytes} bytes`,
            Code.InvalidArgument,
          );
        }
        const format = formatOf(request.format, request.data);
        const options: ImportOptions = {
          installedSources: new Set(),
          now: now(),
          newId,
          dryRun: request.dryRun,
        };
        let report: ImportReport;
        try {
          const sources = await deps.installedSources();
          options.installedSources = new Set(sources.map((s) => s.sourceId));
          report =
            format === BackupFormat.TACHIBK
              ? await importTachibk(deps.library, userId, request.data, mihonReplacements(sources), options)
              : await importBackup(deps.library, userId, parseBackupJson(request.data), options);
        } catch (error) {
          if (error instanceof BackupFormatError) throw new ConnectError(error.message, Code.InvalidArgument);
          throw error;
        }
        return { format, ...report, dryRun: request.dryRun };
      },
    },
    { readMaxBytes: BACKUP_LIMITS.maxBytes + REQUEST_OVERHEAD_BYTES },
  );
}
