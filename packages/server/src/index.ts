export {
  ANONYMOUS,
  type Authenticator,
  adminBearer,
  authenticate,
  type Caller,
  callerOf,
  type Role,
  remoteAddressOf,
  requireAdmin,
  requireUser,
  type UserCaller,
  withRemoteAddress,
} from './auth.js';
export { echo, MAX_ECHO_CHARS } from './echo.js';
export { metricsPage, type Page, type PageContent } from './pages.js';
export { createServer, type RunningServer, type ServerOptions } from './server.js';
