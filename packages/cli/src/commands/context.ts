import type { BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import type { LibraryService } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import type { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import type { RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import type { RepositoryService } from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import type { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import type { UpdateService } from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import type { UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import type { Client } from '@connectrpc/connect';
import type { ProgressSink } from '../progress.js';

/**
 * What every command group is given by main.ts. The clients are functions because the --server
 * option is only known once commander has parsed the command line.
 */
export interface CommandContext {
  sources: () => Client<typeof SourceService>;
  plugins: () => Client<typeof PluginService>;
  registry: () => Client<typeof RegistryService>;
  repositories: () => Client<typeof RepositoryService>;
  updates: () => Client<typeof UpdateService>;
  backup: () => Client<typeof BackupService>;
  library: () => Client<typeof LibraryService>;
  users: () => Client<typeof UserService>;
  /** the --server URL, which `awasm login` saves its key for */
  server: () => string;
  /** a password: all of stdin (one trailing newline dropped) with --password-stdin, else asked for on the terminal */
  readPassword: (prompt: string, fromStdin: boolean) => Promise<string>;
  /** `text` for people, `value` as JSON under --json */
  print: (text: string, value: unknown) => void;
  /** a line on stderr that does not fail the command */
  warn: (text: string) => void;
  /** the error for bad usage (exit code 2) */
  usage: (message: string) => Error;
  /** where download and upload progress goes */
  progress: ProgressSink;
}
