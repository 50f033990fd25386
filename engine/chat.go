package engine

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// ErrNoChatTemplate: the model has no chat template.
var ErrNoChatTemplate = errors.New("the model has no chat template")

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	Role    string // "system", "user", "assistant"
	Content string
}

// cChatMessage is llama_chat_message.
type cChatMessage struct {
	role, content *byte
}

// ApplyChatTemplate formats messages with the model's own chat template
// (llama_chat_apply_template, which knows llama.cpp's built-in templates,
// not arbitrary Jinja). addAssistant ends the text with the opening of the
// assistant's turn. The same text is tokenized once and shared by target
// and draft, so both see the template identically.
func (m *Model) ApplyChatTemplate(messages []ChatMessage, addAssistant bool) (string, error) {
	tmpl := m.Info.ChatTemplate
	if tmpl == "" {
		return "", fmt.Errorf("%s: %w", m.Info.Path, ErrNoChatTemplate)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	cstr := func(s string) *byte {
		b := append([]byte(s), 0)
		pin.Pin(&b[0])
		return &b[0]
	}
	msgs := make([]cChatMessage, len(messages))
	size := len(tmpl)
	for i, msg := range messages {
		msgs[i] = cChatMessage{role: cstr(msg.Role), content: cstr(msg.Content)}
		size += 2 * (len(msg.Role) + len(msg.Content))
	}
	var chat unsafe.Pointer
	if len(msgs) > 0 {
		pin.Pin(&msgs[0])
		chat = unsafe.Pointer(&msgs[0])
	}
	t := cstr(tmpl)
	buf := make([]byte, size+64)
	for range 2 {
		n := m.lib.c.llamaChatApply(t, chat, uint64(len(msgs)), addAssistant, unsafe.Pointer(&buf[0]), int32(len(buf)))
		if n < 0 {
			return "", fmt.Errorf("%s: llama.cpp does not support this chat template (llama_chat_apply_template knows only its built-in templates)", m.Info.Path)
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, n)
	}
	return "", errors.New("chat template: buffer size mismatch")
}
