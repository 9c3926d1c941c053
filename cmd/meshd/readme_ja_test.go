package main

import (
	"os"
	"strings"
	"testing"
)

const readmeJaPath = "../../README.ja.md"

// settingsJa says in Japanese what each setting does, for README.ja.md's tables. A setting
// missing here is listed with its English text, so the table is always complete; add a line
// here when you add a setting.
var settingsJa = map[string]string{
	"MESH_LISTEN_ADDR":                         "API（HTTP と WebSocket）が待ち受けるアドレスとポート",
	"MESH_TLS_CERT":                            "HTTPS・WSS 用の証明書（PEM、中間証明書を含めてよい）。SIGHUP で読み直す",
	"MESH_TLS_KEY":                             "-tls-cert の秘密鍵（PEM）",
	"MESH_CONSOLE_ADDR":                        "先生用コンソールと /statusz をこのアドレスだけで提供する（例 127.0.0.1:8081）。空ならメインのポートで提供",
	"MESH_STATIC_DIR":                          "このフォルダーにあるビルド済みの Smalruby エディターを同じオリジンで配信する",
	"MESH_PUBLIC_URL":                          "生徒のブラウザから見た meshd の URL（例 http://meshd.school.lan:8080）。-static のエディターに埋め込まれた AppSync のエンドポイントをこの URL + /graphql に書き換える。空ならエディターのページを読み込んだオリジン + /graphql にする（リクエストの Host には左右されない）",
	"MESH_API_KEYS":                            "クライアントが送るべき API キー（カンマ区切り）。空ならどのキーも受け付ける",
	"MESH_ALLOWED_ORIGINS":                     "接続を許すブラウザのオリジン（カンマ区切り）。空ならすべて許す",
	"MESH_DOMAIN_MODE":                         "createDomain が返すドメイン: fixed（全員に同じもの。LAN 向け）、ip、subnet",
	"MESH_SECRET_KEY":                          "createDomain のハッシュに混ぜる秘密。空なら生成してデータディレクトリに保存する",
	"MESH_ADMIN_KEYS":                          "先生用コンソールと /statusz の管理キー（カンマ区切り。API キーとは別）。空なら生成してデータディレクトリに保存する（-store memory ではメモリーにだけ置く）",
	"MESH_TRUSTED_PROXIES":                     "X-Forwarded-For を信じるプロキシのネットワーク（CIDR、カンマ区切り）",
	"MESH_HOST_HEARTBEAT_INTERVAL_SECONDS":     "ホストがハートビートを送る間隔",
	"MESH_HOST_HEARTBEAT_TTL_SECONDS":          "ホストの最後のハートビートからこの時間でグループが終わる",
	"MESH_MEMBER_HEARTBEAT_INTERVAL_SECONDS":   "メンバーがハートビートを送る間隔",
	"MESH_MEMBER_HEARTBEAT_TTL_SECONDS":        "参加と変数の状態が、最後の更新からこの時間だけ残る",
	"MESH_MAX_CONNECTION_TIME_SECONDS":         "グループの寿命の上限（maxConnectionTimeSeconds の上限でもある）",
	"MESH_DEAD_GROUP_GRACE_SECONDS":            "終わったグループ（expiresAt またはホストのハートビート切れ）がこの時間だけ Group expired / heartbeat expired と答え、その後は忘れられる",
	"MESH_EVENT_TTL_SECONDS":                   "ポーリング用のイベントを残す時間",
	"MESH_POLLING_INTERVAL_SECONDS":            "WebSocket を使わないグループに伝えるポーリング間隔",
	"MESH_KEEPALIVE_SECONDS":                   "リアルタイム接続のキープアライブ（ka）を送る間隔",
	"MESH_CONNECTION_TIMEOUT_MS":               "connection_ack で伝える connectionTimeoutMs",
	"MESH_REQUEST_TIMEOUT":                     "1 つのリクエストにかけてよい最長時間",
	"MESH_SHUTDOWN_TIMEOUT":                    "停止するときに処理中のリクエストと接続を待つ時間",
	"MESH_READ_TIMEOUT":                        "HTTP リクエストのヘッダー、続いて本文が届くまで待つ最長時間",
	"MESH_WRITE_TIMEOUT":                       "HTTP リクエストのヘッダーから応答を書き終えるまでの最長時間（-request-timeout より長く）",
	"MESH_IDLE_TIMEOUT":                        "使われていない keep-alive の HTTP 接続を開いておく時間",
	"MESH_EVENT_PAGE_LIMIT":                    "getEventsSince・pollGroupData が 1 回で返すイベントの最大数",
	"MESH_MAX_REQUEST_BYTES":                   "受け付ける HTTP リクエスト本文の最大バイト数",
	"MESH_MAX_WS_FRAME_BYTES":                  "受け付ける WebSocket フレームの最大バイト数",
	"MESH_MAX_CONNECTIONS":                     "同時に開けるリアルタイム WebSocket の最大数。超えると HTTP 429",
	"MESH_MAX_OPEN_CONNECTIONS":                "接続の予算: すべてのリスナー（API・コンソール・メトリクス・pprof）で同時に開ける接続（HTTP と WebSocket）の最大数。使い切ったら、まず待機中の接続を閉じて場所を空け、空けられなければ 429 を返して閉じる。0 ならファイル記述子の上限から 128 を引いた数",
	"MESH_MAX_CONNECTIONS_PER_ADDRESS":         "1 つのクライアントアドレスから同時に開ける接続の最大数（信頼するプロキシは除く）。0 なら上限なし: NAT の内側の学校全体が 1 つのアドレスでも予算をすべて使え、予算が尽きたときは接続の最も多いアドレスから譲る",
	"MESH_MEMORY_LIMIT_MIB":                    "Go のランタイムが持つメモリ（ヒープ・スタック・バッファ）の緩い上限（MiB）。近づくほどガベージコレクタが頻繁に走り、CPU と引き換えにメモリを抑える（クラスタのノードで何が得られるかは deploy/cluster.md）。0 なら上限なし（GOMEMLIMIT は効く）",
	"MESH_MAX_SUBSCRIPTIONS_PER_CONNECTION":    "1 つの WebSocket で同時に使えるサブスクリプションの最大数",
	"MESH_SEND_QUEUE_FRAMES":                   "読むのが遅い相手のために溜めるフレーム数。超えるとその WebSocket を 1013 で閉じる",
	"MESH_SEND_QUEUE_BYTES":                    "読むのが遅い相手のために溜めるバイト数。超えるとその WebSocket を 1013 で閉じる",
	"MESH_MAX_QUERY_BYTES":                     "受け付ける GraphQL ドキュメントの最大の長さ",
	"MESH_MAX_DEPTH":                           "ドキュメント内のフィールドの入れ子の最大の深さ",
	"MESH_MAX_OVERLAP_PAIRS":                   "検証で比べる同名フィールドの組の最大数（数の 2 乗で重くなる）",
	"MESH_MAX_SELECTIONS":                      "フラグメントを展開したあとの 1 操作の選択の最大数",
	"MESH_MAX_ALIASES":                         "1 つのドキュメント内のエイリアスの最大数",
	"MESH_MAX_RESPONSE_BYTES":                  "1 つのクエリ・ミューテーションへの応答の最大バイト数",
	"MESH_MAX_SUBSCRIPTION_FRAME_BYTES":        "サブスクリプションの 1 フレームの最大バイト数。超えるメッセージにはエラーを返す",
	"MESH_DOCUMENT_CACHE":                      "検証済みのドキュメントを覚えておく数",
	"MESH_MAX_GROUP_SUBSCRIPTIONS_PER_ADDRESS": "1 つのグループへの、1 つのクライアントアドレスからの購読（subscription）の最大数。そのアドレスのすべての WebSocket を合わせて数える（エディターはグループごとに 1 つ、古い版は 3 つ。NAT の後ろの 40 人のクラスで 40〜120）",
	"MESH_MAX_ERRORS":                          "1 つの応答に並べるエラーの最大数。残りは最後の 1 つのエラーで数だけ伝える",
	"MESH_MAX_VARIABLE_BYTES":                  "リクエストの変数（variables）の JSON の最大の長さ",
	"MESH_MAX_VARIABLE_DEPTH":                  "リクエストの変数の入れ子の最大の深さ（変数をまとめたオブジェクトが 1）",
	"MESH_MAX_VARIABLE_VALUES":                 "リクエストの変数に含まれる JSON の値の最大数（使われない変数も数える）。どれかを読み込む前に、テキストのまま数える",
	"MESH_DATA_DIR":                            "状態ファイルと生成した秘密・管理キーを置くフォルダー",
	"MESH_STORE":                               "状態の保存先: bbolt（1 ファイルに確実に保存）または memory（終了で消える）",
	"MESH_STATUS_FLUSH_INTERVAL":               "変わった変数の状態をファイルに書く間隔",
	"MESH_SWEEP_INTERVAL":                      "終わったグループを購読者に知らせ、猶予を過ぎたグループと期限切れのメンバー・イベントを片付ける間隔",
	"MESH_NATS_LISTEN":                         "組み込みの NATS サーバーをこのアドレスでも開く（例 127.0.0.1:4222）。-nats-token を示すクライアントだけが使える。空ならプロセス内だけ",
	"MESH_NATS_TOKEN":                          "-nats-listen のクライアントが示すトークン。16 文字以上（-nats-listen には必須。このポートには全グループのメッセージが流れる）",
	"MESH_CLUSTER_LISTEN":                      "このノードのクラスター用ルートが待ち受けるアドレス（例 0.0.0.0:6222）。空なら 1 プロセスで動く",
	"MESH_CLUSTER_ROUTES":                      "クラスターのノードのルートアドレス nats://host:port（カンマ区切り。自分自身を含めてもよい）",
	"MESH_CLUSTER_NAME":                        "クラスターの名前。全ノードで同じにする",
	"MESH_NODE_NAME":                           "このノードの名前。クラスター内で一意で、再起動しても変えない。空ならホスト名",
	"MESH_CLUSTER_SECRET":                      "ノード間のルートが認証に使う共有の秘密。16 文字以上。-cluster-listen を使うときは必須",
	"MESH_CLUSTER_TLS_CERT":                    "このノードがルートで示す証明書（PEM）。空なら -cluster-secret から導いた証明書を使う（ルートは常に相互 TLS）",
	"MESH_CLUSTER_TLS_KEY":                     "-cluster-tls-cert の秘密鍵（PEM）",
	"MESH_CLUSTER_TLS_CA":                      "全ノードのルート証明書に署名した CA の証明書（PEM）",
	"MESH_CLUSTER_REPLICAS":                    "すべての変更を保存するノードの数。変更するにはその過半数が動いている必要がある",
	"MESH_CLUSTER_SHARDS":                      "クラスターのログを分ける数（シャード）。シャードごとにリーダーがいる。クラスターを初めて起動したときに決まり、別の数を設定したノードは動かない（レディにならない）",
	"MESH_CLUSTER_SYNC":                        "ノードがログの写しをディスクに書き切る（fsync）時機: always（変更を確定として返す前。1 台の meshd と同じで、全ノードが同時に停電しても確定した変更は失われない）または 1s のような間隔（書き込みは速いが、全ノードが同時に停電すると最後の間隔の確定した変更を失うことがある）",
	"MESH_LOG_LEVEL":                           "ログの詳しさ: debug、info、warn、error",
	"MESH_LOG_FORMAT":                          "ログの形式: text または json",
	"MESH_METRICS_ADDR":                        "/metrics をこの別アドレスで提供する。空ならメインのポートで提供",
	"MESH_PPROF_ADDR":                          "Go の pprof をこのアドレスで提供する（例 127.0.0.1:6060）。空なら無効",
}

// topicsJa are the Japanese titles of the topics; a missing one is shown in English.
var topicsJa = map[topic]string{
	topicListening: "待ち受け",
	topicSecurity:  "セキュリティ",
	topicLifetimes: "寿命と間隔",
	topicLimits:    "上限",
	topicStorage:   "保存",
	topicCluster:   "クラスター",
	topicLogging:   "ログとメトリクス",
}

// japanese is README.ja.md's wording of the settings tables: the English usage stands where
// a setting has no translation yet.
var japanese = readmeTable{
	header: "| 環境変数 | フラグ | 既定値 | 意味 |",
	title: func(t topic) string {
		if ja, ok := topicsJa[t]; ok {
			return ja
		}
		return topics[t]
	},
	meaning: func(s setting) string {
		if ja, ok := settingsJa[s.env]; ok {
			return ja
		}
		return s.usage
	},
}

// TestREADMESettingsJa keeps README.ja.md's settings tables equal to what the flag definitions
// generate, like TestREADMESettings does for README.md (the same -update-readme rewrites both).
func TestREADMESettingsJa(t *testing.T) {
	raw, err := os.ReadFile(readmeJaPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(raw), settingsBegin)
	if !ok {
		t.Fatalf("README.ja.md has no %q", settingsBegin)
	}
	current, after, ok := strings.Cut(rest, settingsFinish)
	if !ok {
		t.Fatalf("README.ja.md has no %q", settingsFinish)
	}
	settings := (&config{}).settings()
	want := settingsMarkdown(settings, japanese)
	if current != want {
		if !*updateREADME {
			t.Fatalf("README.ja.md's settings tables are stale; run go test ./cmd/meshd -run TestREADMESettings -update-readme\nwant:\n%s", want)
		}
		if err := os.WriteFile(readmeJaPath, []byte(before+settingsBegin+want+settingsFinish+after), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	for env := range settingsJa {
		if !known[env] {
			t.Errorf("settingsJa describes %s, which is no setting", env)
		}
	}
	for _, s := range settings {
		if _, ok := settingsJa[s.env]; !ok {
			t.Logf("%s has no Japanese description yet (settingsJa in readme_ja_test.go); README.ja.md shows its English one", s.env)
		}
	}
}
