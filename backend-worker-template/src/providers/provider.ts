// What every provider offers the Backend entrypoint.
import type { HealthReport, InferenceRequest, InferenceResponse } from "../../../shims/interfaces";
import type { BackendConfig } from "../config";

export interface Provider {
  /** Answers one attempt; `req` is checked and its model is served by this backend. */
  infer(req: InferenceRequest, config: BackendConfig): Promise<InferenceResponse>;
  health(config: BackendConfig): Promise<HealthReport>;
}
