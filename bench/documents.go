package main

// The GraphQL documents of the newest editor (G4), as Apollo sends them: __typename in every
// selection set.
const (
	docCreateDomain = "mutation CreateDomain {\n  createDomain\n}\n"

	docCreateGroup = `mutation CreateGroup($name: String!, $hostId: ID!, $domain: String!, $maxConnectionTimeSeconds: Int, $useWebSocket: Boolean!) {
  createGroup(
    name: $name
    hostId: $hostId
    domain: $domain
    maxConnectionTimeSeconds: $maxConnectionTimeSeconds
    useWebSocket: $useWebSocket
  ) {
    id
    domain
    fullId
    name
    hostId
    expiresAt
    heartbeatIntervalSeconds
    useWebSocket
    pollingIntervalSeconds
    __typename
  }
}
`

	docJoinGroup = `mutation JoinGroup($groupId: ID!, $domain: String!, $nodeId: ID!, $useWebSocket: Boolean) {
  joinGroup(
    groupId: $groupId
    domain: $domain
    nodeId: $nodeId
    useWebSocket: $useWebSocket
  ) {
    id
    name
    groupId
    domain
    expiresAt
    heartbeatIntervalSeconds
    useWebSocket
    pollingIntervalSeconds
    __typename
  }
}
`

	docReportDataByNode = `mutation ReportDataByNode($groupId: ID!, $domain: String!, $nodeId: ID!, $data: [SensorDataInput!]!) {
  reportDataByNode(
    groupId: $groupId
    domain: $domain
    nodeId: $nodeId
    data: $data
  ) {
    groupId
    domain
    nodeStatus {
      nodeId
      groupId
      domain
      data {
        key
        value
        __typename
      }
      timestamp
      __typename
    }
    __typename
  }
}
`

	docFireEventsByNode = `mutation FireEventsByNode($groupId: ID!, $domain: String!, $nodeId: ID!, $events: [EventInput!]!) {
  fireEventsByNode(
    groupId: $groupId
    domain: $domain
    nodeId: $nodeId
    events: $events
  ) {
    groupId
    domain
    batchEvent {
      events {
        name
        firedByNodeId
        groupId
        domain
        payload
        timestamp
        orderKey
        __typename
      }
      firedByNodeId
      groupId
      domain
      timestamp
      __typename
    }
    __typename
  }
}
`

	docRecordEventsByNode = `mutation RecordEventsByNode($groupId: ID!, $domain: String!, $nodeId: ID!, $events: [EventInput!]!) {
  recordEventsByNode(
    groupId: $groupId
    domain: $domain
    nodeId: $nodeId
    events: $events
  ) {
    groupId
    domain
    recordedCount
    nextSince
    __typename
  }
}
`

	docRenewHeartbeat = `mutation RenewHeartbeat($groupId: ID!, $domain: String!, $hostId: ID!) {
  renewHeartbeat(groupId: $groupId, domain: $domain, hostId: $hostId) {
    groupId
    domain
    expiresAt
    heartbeatIntervalSeconds
    __typename
  }
}
`

	docSendMemberHeartbeat = `mutation SendMemberHeartbeat($groupId: ID!, $domain: String!, $nodeId: ID!) {
  sendMemberHeartbeat(groupId: $groupId, domain: $domain, nodeId: $nodeId) {
    nodeId
    groupId
    domain
    expiresAt
    heartbeatIntervalSeconds
    __typename
  }
}
`

	docListGroupStatuses = `query ListGroupStatuses($groupId: ID!, $domain: String!) {
  listGroupStatuses(groupId: $groupId, domain: $domain) {
    nodeId
    groupId
    domain
    data {
      key
      value
      __typename
    }
    timestamp
    __typename
  }
}
`

	docPollGroupData = `query PollGroupData($groupId: ID!, $domain: String!, $since: String!) {
  pollGroupData(groupId: $groupId, domain: $domain, since: $since) {
    events {
      name
      firedByNodeId
      groupId
      domain
      payload
      timestamp
      cursor
      orderKey
      __typename
    }
    nodeStatuses {
      nodeId
      groupId
      domain
      data {
        key
        value
        __typename
      }
      timestamp
      __typename
    }
    __typename
  }
}
`

	docDissolveGroup = `mutation DissolveGroup($groupId: ID!, $domain: String!, $hostId: ID!) {
  dissolveGroup(groupId: $groupId, domain: $domain, hostId: $hostId) {
    groupId
    domain
    groupDissolve {
      groupId
      domain
      message
      __typename
    }
    __typename
  }
}
`

	docOnMessageInGroup = `subscription OnMessageInGroup($groupId: ID!, $domain: String!) { onMessageInGroup(groupId: $groupId, domain: $domain) { groupId domain nodeStatus { nodeId groupId domain data { key value __typename } timestamp __typename } batchEvent { firedByNodeId groupId domain timestamp events { name firedByNodeId groupId domain payload timestamp orderKey __typename } __typename } groupDissolve { groupId domain message __typename } __typename } }`
)
