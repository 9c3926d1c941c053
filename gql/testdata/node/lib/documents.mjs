// The newest editor's (G4) operations, read from the real client documents kept in
// gql/testdata/documents (one file per operation, as written in the editor's gql-operations.js).
// The editor writes them without __typename; Apollo (aws-appsync) adds __typename to every
// selection set on the wire, so the server must resolve it everywhere, subscriptions included.
import { readFileSync } from 'node:fs';

const dir = new URL('../../documents/', import.meta.url);
const load = (operation) => readFileSync(new URL(`g4_${operation}.graphql`, dir), 'utf8');

export const CREATE_DOMAIN = load('CreateDomain');
export const CREATE_GROUP = load('CreateGroup');
export const JOIN_GROUP = load('JoinGroup');
export const DISSOLVE_GROUP = load('DissolveGroup');
export const RENEW_HEARTBEAT = load('RenewHeartbeat');
export const SEND_MEMBER_HEARTBEAT = load('SendMemberHeartbeat');
export const REPORT_DATA = load('ReportDataByNode');
export const FIRE_EVENTS = load('FireEventsByNode');
export const RECORD_EVENTS = load('RecordEventsByNode');
export const POLL_GROUP_DATA = load('PollGroupData');
export const LIST_GROUP_STATUSES = load('ListGroupStatuses');
export const ON_MESSAGE_IN_GROUP = load('OnMessageInGroup');

/** The document as Apollo puts it on the wire (graphql print() with __typename added). */
export const wire = (operation) => readFileSync(new URL(`g4_${operation}_typename.graphql`, dir), 'utf8');

/** Any other real client document, by file name (e.g. 'g1_OnDataUpdateInGroup'). */
export const document = (name) => readFileSync(new URL(`${name}.graphql`, dir), 'utf8');
