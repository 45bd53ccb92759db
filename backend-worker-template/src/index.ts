// A backend Worker: reached only through a Service Binding, it answers the orchestrator's RPC calls
// with the provider its vars choose (PROVIDER = echo | workers-ai | openai-compatible | anthropic).
import { WorkerEntrypoint } from "cloudflare:workers";
import type { BackendDescription, BackendEnv, BackendRpc, HealthReport, InferenceResponse, ProviderName } from "../../shims/interfaces";
import { readConfig, servesModel } from "./config";
import { anthropicProvider } from "./providers/anthropic";
import { echoProvider } from "./providers/echo";
import { openAiCompatibleProvider } from "./providers/openai-compatible";
import { badRequest, errorBody, errorResponse, modelNotServed } from "./providers/openai-shapes";
import type { Provider } from "./providers/provider";
import { workersAiProvider } from "./providers/workers-ai";
import { checkRequest } from "./request-check";

const TEMPLATE_VERSION = "0.1.0";

const PROVIDERS: Record<ProviderName, Provider> = {
  echo: echoProvider,
  "workers-ai": workersAiProvider,
  "openai-compatible": openAiCompatibleProvider,
  anthropic: anthropicProvider,
};

export default class Backend extends WorkerEntrypoint<BackendEnv> implements BackendRpc {
  async infer(request: unknown): Promise<InferenceResponse> {
    const checked = checkRequest(request);
    if (!checked.ok) return badRequest(checked.message, checked.param);
    const req = checked.req;

    const read = readConfig(this.env);
    if (!read.ok) {
      console.error(JSON.stringify({ event: "backend_misconfigured", requestId: req.requestId, error: read.error }));
      return errorResponse(500, read.error, "server_error", "backend_misconfigured");
    }
    const config = read.config;
    if (!servesModel(config, req.model)) return modelNotServed(req.model);
    const provider = PROVIDERS[config.provider];
    if (!provider.endpoints.includes(req.path)) {
      return errorResponse(400, `The ${config.provider} provider serves only ${provider.endpoints.join(", ")}, not ${req.path}`, "invalid_request_error", "unsupported_endpoint");
    }

    try {
      return await provider.infer(req, config);
    } catch (err) {
      // The error text may quote the request; only its kind is logged and nothing of it is returned.
      console.error(JSON.stringify({ event: "backend_error", requestId: req.requestId, provider: config.provider, error: err instanceof Error ? err.name : typeof err }));
      return errorResponse(500, "The backend failed while answering", "server_error", "backend_error");
    }
  }

  async describe(): Promise<BackendDescription> {
    const read = readConfig(this.env);
    // Thrown so the orchestrator sees the backend as broken, with the reason.
    if (!read.ok) throw new Error(read.error);
    const { name, models, weight } = read.config;
    const endpoints = PROVIDERS[read.config.provider].endpoints.map((path) => path.slice("/v1/".length));
    return { name, models, ...(weight !== undefined ? { weight } : {}), version: `${TEMPLATE_VERSION}+${read.config.provider}`, endpoints };
  }

  async health(): Promise<HealthReport> {
    const read = readConfig(this.env);
    if (!read.ok) return { ok: false, detail: read.error };
    try {
      return await PROVIDERS[read.config.provider].health(read.config);
    } catch {
      return { ok: false, detail: "health check failed" };
    }
  }

  /** Backends are not public: any HTTP request gets a bare 404 that says nothing about this Worker. */
  async fetch(): Promise<Response> {
    return Response.json(errorBody("Not found", "invalid_request_error", "not_found"), { status: 404 });
  }
}
