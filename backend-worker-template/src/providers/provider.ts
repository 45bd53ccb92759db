// What every provider offers the Backend entrypoint.
import type { HealthReport, InferencePath, InferenceResponse } from "../../../shims/interfaces";
import type { BackendConfig } from "../config";
import type { CheckedRequest } from "../request-check";

export interface Provider {
  /** The paths it answers (describe().endpoints); a request for another is refused before infer(). */
  endpoints: readonly InferencePath[];
  /** Answers one attempt by `req.stopAt`; `req` is checked and its model is served by this backend. */
  infer(req: CheckedRequest, config: BackendConfig): Promise<InferenceResponse>;
  health(config: BackendConfig): Promise<HealthReport>;
}
