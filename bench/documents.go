package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// operations are the newest editor's operations the generator sends, by operation name.
var operations = []string{
	"CreateDomain", "CreateGroup", "JoinGroup", "OnMessageInGroup", "ReportDataByNode", "FireEventsByNode",
	"RecordEventsByNode", "RenewHeartbeat", "SendMemberHeartbeat", "ListGroupStatuses", "PollGroupData", "DissolveGroup",
}

// documentsDir holds the real client documents of every generation, which the API tests
// validate and execute.
var documentsDir = filepath.Join("gql", "testdata", "documents")

// loadDocuments reads the G4 editor's documents as Apollo sends them (with __typename in every
// selection set) from the module at root, so the generator sends exactly what the real client
// sends.
func loadDocuments(root string) (map[string]string, error) {
	docs := make(map[string]string, len(operations))
	for _, op := range operations {
		b, err := os.ReadFile(filepath.Join(root, documentsDir, "g4_"+op+"_typename.graphql"))
		if err != nil {
			return nil, fmt.Errorf("load the editor's %s document: %w", op, err)
		}
		docs[op] = string(b)
	}
	return docs, nil
}
