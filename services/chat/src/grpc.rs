//! gRPC `ChatService` and `UserService` for internal callers.

use std::sync::Arc;

use switchboard_proto::chat::v1::{
    self as pb, chat_service_server::ChatService, user_service_server::UserService,
};
use tonic::{Request, Response, Status};

use crate::error::{ChatError, parse_id};
use crate::message::timestamp;
use crate::service::{ChatCore, SendInput};
use crate::store::UserUpsert;

pub struct ChatGrpc {
    pub core: Arc<ChatCore>,
}

#[tonic::async_trait]
impl ChatService for ChatGrpc {
    #[tracing::instrument(skip_all)]
    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        let req = request.into_inner();
        let outcome = self
            .core
            .send(SendInput {
                sender_id: req.sender_id,
                recipient_id: req.recipient_id,
                content: req.content,
                client_msg_id: req.client_msg_id,
                origin_connection: None,
                ack_token: None,
            })
            .await?
            .outcome;
        Ok(Response::new(pb::SendMessageResponse {
            message: Some(outcome.message().to_proto()),
            duplicate: matches!(outcome, crate::store::SendOutcome::Duplicate(_)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::MessagePage>, Status> {
        let req = request.into_inner();
        let (messages, has_more) = self
            .core
            .history(&req.user_id, &req.peer_id, req.before.as_deref(), req.limit)
            .await?;
        Ok(Response::new(pb::MessagePage {
            messages: messages.iter().map(|m| m.to_proto()).collect(),
            has_more,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn sync(
        &self,
        request: Request<pb::SyncRequest>,
    ) -> Result<Response<pb::MessagePage>, Status> {
        let req = request.into_inner();
        let (messages, has_more) = self
            .core
            .sync(&req.user_id, req.after.as_deref(), req.limit)
            .await?;
        Ok(Response::new(pb::MessagePage {
            messages: messages.iter().map(|m| m.to_proto()).collect(),
            has_more,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_message_read(
        &self,
        request: Request<pb::MarkMessageReadRequest>,
    ) -> Result<Response<pb::MarkMessageReadResponse>, Status> {
        let req = request.into_inner();
        let marked = self
            .core
            .mark_read(&req.reader_id, &req.message_id, None)
            .await?;
        Ok(Response::new(pb::MarkMessageReadResponse {
            message_id: marked.message_id.to_string(),
            read_at: Some(timestamp(marked.read_at)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_conversation_read(
        &self,
        request: Request<pb::MarkConversationReadRequest>,
    ) -> Result<Response<pb::MarkConversationReadResponse>, Status> {
        let req = request.into_inner();
        let (count, read_at) = self
            .core
            .mark_conversation_read(&req.reader_id, &req.peer_id, &req.up_to_message_id, None)
            .await?;
        Ok(Response::new(pb::MarkConversationReadResponse {
            count,
            read_at: Some(timestamp(read_at)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_conversations(
        &self,
        request: Request<pb::ListConversationsRequest>,
    ) -> Result<Response<pb::ListConversationsResponse>, Status> {
        let req = request.into_inner();
        let user = parse_id("userId", &req.user_id)?;
        let limit = req.limit.unwrap_or(50).clamp(1, 500);
        let rows = self.core.store.list_conversations(user, limit).await?;
        Ok(Response::new(pb::ListConversationsResponse {
            conversations: rows
                .into_iter()
                .map(|c| pb::Conversation {
                    peer_id: c.peer_id.to_string(),
                    last_message: Some(c.last_message.to_proto()),
                    unread_count: c.unread_count,
                })
                .collect(),
        }))
    }
}

pub struct UserGrpc {
    pub core: Arc<ChatCore>,
}

/// At most this many users in one `UpsertUsers` call.
const MAX_UPSERT_BATCH: usize = 10_000;

#[tonic::async_trait]
impl UserService for UserGrpc {
    #[tracing::instrument(skip_all)]
    async fn upsert_user(
        &self,
        request: Request<pb::UpsertUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let req = request.into_inner();
        let upsert = upsert_from_proto(&req)?;
        let id = upsert.id;
        self.core.store.upsert_users(&[upsert]).await?;
        let user = self
            .core
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| Status::internal("user vanished after upsert"))?;
        Ok(Response::new(user_to_proto(user)))
    }

    #[tracing::instrument(skip_all, fields(count = request.get_ref().users.len()))]
    async fn upsert_users(
        &self,
        request: Request<pb::UpsertUsersRequest>,
    ) -> Result<Response<pb::UpsertUsersResponse>, Status> {
        let req = request.into_inner();
        if req.users.len() > MAX_UPSERT_BATCH {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_UPSERT_BATCH} users per call"
            )));
        }
        let upserts = req
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                upsert_from_proto(u).map_err(|e| match e {
                    ChatError::Invalid(m) => ChatError::Invalid(format!("users[{i}]: {m}")),
                    other => other,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let changed = self.core.store.upsert_users(&upserts).await?;
        Ok(Response::new(pb::UpsertUsersResponse {
            upserted: changed as u32,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        match self.core.store.get_user(id).await? {
            Some(user) => Ok(Response::new(user_to_proto(user))),
            None => Err(Status::not_found("user not found")),
        }
    }
}

pub fn upsert_from_proto(req: &pb::UpsertUserRequest) -> Result<UserUpsert, ChatError> {
    let id = parse_id("id", &req.id)?;
    if id.is_nil() {
        return Err(ChatError::Invalid("id must not be the nil UUID".into()));
    }
    let role = match pb::Role::try_from(req.role).unwrap_or(pb::Role::Unspecified) {
        pb::Role::Unspecified => None,
        pb::Role::Applicant => Some("applicant"),
        pb::Role::Lawyer => Some("lawyer"),
        pb::Role::Admin => Some("admin"),
    };
    let clean =
        |v: &Option<String>, field: &str, max: usize| -> Result<Option<String>, ChatError> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) if s.chars().count() > max => Err(ChatError::Invalid(format!(
                    "{field} is longer than {max} characters"
                ))),
                Some(s) => Ok(Some(s.to_owned())),
            }
        };
    let email = clean(&req.email, "email", 320)?;
    if let Some(e) = &email
        && !e.contains('@')
    {
        return Err(ChatError::Invalid("email must be an e-mail address".into()));
    }
    Ok(UserUpsert {
        id,
        email,
        display_name: clean(&req.display_name, "displayName", 200)?,
        role: role.map(str::to_owned),
    })
}

/// The protobuf role of a stored role name.
pub fn role_from_name(role: &str) -> pb::Role {
    match role {
        "applicant" => pb::Role::Applicant,
        "lawyer" => pb::Role::Lawyer,
        "admin" => pb::Role::Admin,
        _ => pb::Role::Unspecified,
    }
}

fn user_to_proto(user: crate::store::UserRow) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email,
        display_name: user.display_name,
        role: role_from_name(&user.role) as i32,
        last_seen_at: user.last_seen_at.map(timestamp),
    }
}
