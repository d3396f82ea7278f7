/**
 * The configuration resources' half of PgliteStore (numbers, applications, API keys, carriers,
 * SIP users): each method is one request to the store worker, never coalesced with call writes
 * (see ResourceOp in pglite-worker.ts), because each answers with its row or its own error.
 * PgliteStore supplies `request`, the transport to the worker.
 */
import type { StoreOp } from './pglite-worker.js';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  ApplicationPatch,
  ApplicationRecord,
  ApplicationStore,
  CarrierPatch,
  CarrierRecord,
  CarrierStore,
  IncomingNumberPatch,
  IncomingNumberRecord,
  NumberStore,
  ResourceListQuery,
  ResourcePage,
  SipUserPatch,
  SipUserRecord,
  SipUserStore,
  StoredApiKeyRecord,
  StoredApplicationRecord,
  StoredCarrierRecord,
  StoredIncomingNumberRecord,
  StoredSipUserRecord,
} from './store-types.js';

export abstract class PgliteConfigRequests implements NumberStore, ApplicationStore, ApiKeyStore, CarrierStore, SipUserStore {
  /** Sends one operation to the worker; resolves with its result. */
  protected abstract request(body: StoreOp): Promise<unknown>;

  createNumber(rec: IncomingNumberRecord): Promise<StoredIncomingNumberRecord> {
    return this.request({ op: 'createNumber', rec }) as Promise<StoredIncomingNumberRecord>;
  }

  updateNumber(accountSid: string, sid: string, patch: IncomingNumberPatch): Promise<StoredIncomingNumberRecord | null> {
    return this.request({ op: 'updateNumber', accountSid, sid, patch }) as Promise<StoredIncomingNumberRecord | null>;
  }

  getNumber(accountSid: string, sid: string): Promise<StoredIncomingNumberRecord | null> {
    return this.request({ op: 'getNumber', accountSid, sid }) as Promise<StoredIncomingNumberRecord | null>;
  }

  findNumber(phoneNumber: string): Promise<StoredIncomingNumberRecord | null> {
    return this.request({ op: 'findNumber', phoneNumber }) as Promise<StoredIncomingNumberRecord | null>;
  }

  listNumbers(q: ResourceListQuery & { phoneNumber?: string; friendlyName?: string }): Promise<ResourcePage<StoredIncomingNumberRecord>> {
    return this.request({ op: 'listNumbers', q }) as Promise<ResourcePage<StoredIncomingNumberRecord>>;
  }

  deleteNumber(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteNumber', accountSid, sid }) as Promise<boolean>;
  }

  createApplication(rec: ApplicationRecord): Promise<StoredApplicationRecord> {
    return this.request({ op: 'createApplication', rec }) as Promise<StoredApplicationRecord>;
  }

  updateApplication(accountSid: string, sid: string, patch: ApplicationPatch): Promise<StoredApplicationRecord | null> {
    return this.request({ op: 'updateApplication', accountSid, sid, patch }) as Promise<StoredApplicationRecord | null>;
  }

  getApplication(accountSid: string, sid: string): Promise<StoredApplicationRecord | null> {
    return this.request({ op: 'getApplication', accountSid, sid }) as Promise<StoredApplicationRecord | null>;
  }

  listApplications(q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredApplicationRecord>> {
    return this.request({ op: 'listApplications', q }) as Promise<ResourcePage<StoredApplicationRecord>>;
  }

  deleteApplication(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteApplication', accountSid, sid }) as Promise<boolean>;
  }

  createApiKey(rec: ApiKeyRecord): Promise<StoredApiKeyRecord> {
    return this.request({ op: 'createApiKey', rec }) as Promise<StoredApiKeyRecord>;
  }

  findApiKey(sid: string): Promise<StoredApiKeyRecord | null> {
    return this.request({ op: 'findApiKey', sid }) as Promise<StoredApiKeyRecord | null>;
  }

  getApiKey(accountSid: string, sid: string): Promise<StoredApiKeyRecord | null> {
    return this.request({ op: 'getApiKey', accountSid, sid }) as Promise<StoredApiKeyRecord | null>;
  }

  updateApiKey(accountSid: string, sid: string, patch: { friendlyName: string }): Promise<StoredApiKeyRecord | null> {
    return this.request({ op: 'updateApiKey', accountSid, sid, patch }) as Promise<StoredApiKeyRecord | null>;
  }

  listApiKeys(q: ResourceListQuery): Promise<ResourcePage<StoredApiKeyRecord>> {
    return this.request({ op: 'listApiKeys', q }) as Promise<ResourcePage<StoredApiKeyRecord>>;
  }

  deleteApiKey(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteApiKey', accountSid, sid }) as Promise<boolean>;
  }

  createCarrier(rec: CarrierRecord): Promise<StoredCarrierRecord> {
    return this.request({ op: 'createCarrier', rec }) as Promise<StoredCarrierRecord>;
  }

  updateCarrier(accountSid: string, sid: string, patch: CarrierPatch): Promise<StoredCarrierRecord | null> {
    return this.request({ op: 'updateCarrier', accountSid, sid, patch }) as Promise<StoredCarrierRecord | null>;
  }

  getCarrier(accountSid: string, sid: string): Promise<StoredCarrierRecord | null> {
    return this.request({ op: 'getCarrier', accountSid, sid }) as Promise<StoredCarrierRecord | null>;
  }

  listCarriers(q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredCarrierRecord>> {
    return this.request({ op: 'listCarriers', q }) as Promise<ResourcePage<StoredCarrierRecord>>;
  }

  enabledCarriers(accountSid: string): Promise<StoredCarrierRecord[]> {
    return this.request({ op: 'enabledCarriers', accountSid }) as Promise<StoredCarrierRecord[]>;
  }

  allEnabledCarriers(): Promise<StoredCarrierRecord[]> {
    return this.request({ op: 'enabledCarriers', accountSid: null }) as Promise<StoredCarrierRecord[]>;
  }

  deleteCarrier(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteCarrier', accountSid, sid }) as Promise<boolean>;
  }

  createSipUser(rec: SipUserRecord): Promise<StoredSipUserRecord> {
    return this.request({ op: 'createSipUser', rec }) as Promise<StoredSipUserRecord>;
  }

  updateSipUser(accountSid: string, sid: string, patch: SipUserPatch): Promise<StoredSipUserRecord | null> {
    return this.request({ op: 'updateSipUser', accountSid, sid, patch }) as Promise<StoredSipUserRecord | null>;
  }

  getSipUser(accountSid: string, sid: string): Promise<StoredSipUserRecord | null> {
    return this.request({ op: 'getSipUser', accountSid, sid }) as Promise<StoredSipUserRecord | null>;
  }

  findSipUser(username: string): Promise<StoredSipUserRecord | null> {
    return this.request({ op: 'findSipUser', username }) as Promise<StoredSipUserRecord | null>;
  }

  listSipUsers(q: ResourceListQuery & { username?: string; friendlyName?: string }): Promise<ResourcePage<StoredSipUserRecord>> {
    return this.request({ op: 'listSipUsers', q }) as Promise<ResourcePage<StoredSipUserRecord>>;
  }

  deleteSipUser(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteSipUser', accountSid, sid }) as Promise<boolean>;
  }
}
