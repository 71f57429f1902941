import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import type { FormEvent, KeyboardEvent } from 'react';
import type { ChatMessage } from '../../bindings';
import { ActionError } from '../../components/ActionError';
import { ErrorAlert } from '../../components/ErrorAlert';
import { PeerAvatar } from '../../components/PeerAvatar';
import { PeerNickname } from '../../components/PeerNickname';
import { peerName } from '../../logic/peerName';
import { chatMark } from '../../logic/trades';
import { useChatLog, useMarkRead, useSendChat } from '../../state/trades';
import { formatClock } from './format';

const MARK_TEXT = { sending: 'Sending', delivered: 'Delivered', read: 'Read' } as const;

/** One message. The body is a text node: markup in it shows as typed and is never parsed. */
export function ChatBubble({ message }: { message: ChatMessage }) {
  const mark = message.outgoing ? chatMark(message) : null;
  return (
    <li
      className={`chat-message chat-message--${message.outgoing ? 'out' : 'in'}`}
      data-testid="chat-message"
      data-mark={mark ?? undefined}
    >
      <span className="visually-hidden">{message.outgoing ? 'You:' : 'They:'} </span>
      <p className="chat-body">{message.body}</p>
      <p className="chat-meta">
        <time dateTime={new Date(message.sent_at).toISOString()}>{formatClock(message.sent_at)}</time>
        {mark ? <span className={`chat-mark chat-mark--${mark}`}> · {MARK_TEXT[mark]}</span> : null}
      </p>
    </li>
  );
}

interface ChatProps {
  tradeId: string;
  unread: number;
  /** Who the messages are with: named once beside the title (with its nickname), not on each message. */
  counterparty: string;
}

/** The trade's chat: messages in order, a composer; incoming messages are marked read once shown. */
export function Chat({ tradeId, unread, counterparty }: ChatProps) {
  const log = useChatLog(tradeId);
  const send = useSendChat(tradeId);
  const markRead = useMarkRead(tradeId);
  const [text, setText] = useState('');
  const listRef = useRef<HTMLOListElement>(null);
  const ids = useId();
  const messages = log.data;
  const hasUnread = unread > 0 || (messages?.some((m) => !m.outgoing && m.read_at === null) ?? false);

  // Shown means read: tell the core (and the counterparty) once, whenever unread messages appear.
  const { mutate: markReadNow, isPending: marking, isError: markFailed } = markRead;
  useEffect(() => {
    if (hasUnread && !marking && !markFailed && log.isSuccess) markReadNow(null);
  }, [hasUnread, marking, markFailed, log.isSuccess, markReadNow]);

  // New messages scroll into view inside the fixed-height log; nothing around it moves.
  const count = messages?.length ?? 0;
  useLayoutEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [count]);

  const blank = text.trim() === '';
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (blank || send.isPending) return;
    send.mutate(text, { onSuccess: () => setText('') });
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  return (
    <section className="chat" aria-labelledby={`${ids}-title`}>
      <div className="chat-head">
        <h2 id={`${ids}-title`}>Chat</h2>
        <p className="muted chat-with" data-testid="chat-with">
          with{' '}
          <span className="peer">
            <PeerAvatar peerId={counterparty} size={16} />
            <span className="peer-name">{peerName(counterparty)}</span>
          </span>
          <PeerNickname peer={counterparty} />
        </p>
      </div>
      {log.isError ? (
        <ErrorAlert error={log.error}>
          <button type="button" className="button button--small" onClick={() => void log.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : null}
      <ol ref={listRef} className="chat-log" aria-label="Messages" aria-live="polite" tabIndex={0} data-testid="chat-log">
        {log.isPending ? (
          <li className="muted chat-empty">Loading messages…</li>
        ) : count === 0 ? (
          <li className="muted chat-empty">No messages yet. Messages are end-to-end encrypted.</li>
        ) : (
          messages?.map((m) => <ChatBubble key={m.id} message={m} />)
        )}
      </ol>
      <form className="chat-form" onSubmit={submit} aria-label="Send a message">
        <label htmlFor={`${ids}-text`} className="visually-hidden">
          Message
        </label>
        <textarea
          id={`${ids}-text`}
          rows={2}
          value={text}
          placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="button button--primary" disabled={blank || send.isPending}>
          Send
        </button>
      </form>
      {send.isError ? <ActionError error={send.error} /> : null}
    </section>
  );
}
